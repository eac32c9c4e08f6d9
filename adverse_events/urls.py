"""URLs of the adverse_events app (included under /adverse-events/)."""

from django.urls import path

from adverse_events import views

app_name = "adverse_events"
urlpatterns = [
    path("ctcae/search/", views.ctcae_search, name="ctcae_search"),
    path("sae/", views.sae_list, name="sae_list"),
    path("safety/", views.safety_page, name="safety"),
    path("patients/<int:patient_pk>/ae/<int:pk>/grade-change/", views.grade_change, name="grade_change"),
    path("patients/<int:patient_pk>/ae/<int:pk>/sae-report/", views.sae_report, name="sae_report"),
]
