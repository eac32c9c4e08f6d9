"""URLs of the endpoint dashboard (included under /endpoints/)."""

from django.urls import path

from endpoints import views

app_name = "endpoints"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("recompute/", views.recompute_now, name="recompute"),
]
