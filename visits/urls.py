"""Visit schedule, expected forms and the coordinator's worklist (issue 9)."""

from django.urls import path

from visits import views

app_name = "visits"
urlpatterns = [
    path("worklist/", views.worklist, name="worklist"),
    path("patients/<int:pk>/", views.patient_grid, name="patient_grid"),
    path("patients/<int:pk>/not-done/", views.not_done, name="not_done"),
    path("patients/<int:pk>/not-done/<int:mark_pk>/cancel/", views.cancel_mark, name="cancel_mark"),
]
