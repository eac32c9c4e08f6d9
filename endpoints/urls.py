"""URLs of the endpoint dashboard (included under /endpoints/)."""

from django.urls import include, path

from endpoints import views

app_name = "endpoints"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("recompute/", views.recompute_now, name="recompute"),
    path("", include("endpoints.urls_reports")),
]
