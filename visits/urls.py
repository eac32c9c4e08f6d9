"""Visit schedule, expected forms and the coordinator's worklist (issue 9)."""

from django.urls import path

from visits import todo_views, views

app_name = "visits"
urlpatterns = [
    path("worklist/", views.worklist, name="worklist"),
    path("todo/investigator/", todo_views.investigator, name="todo_investigator"),
    path("todo/data-manager/", todo_views.data_manager, name="todo_data_manager"),
    path("sdv/", todo_views.sdv_list, name="sdv_list"),
    path("patients/<int:pk>/", views.patient_grid, name="patient_grid"),
    path("patients/<int:pk>/not-done/", views.not_done, name="not_done"),
    path("patients/<int:pk>/not-done/<int:mark_pk>/cancel/", views.cancel_mark, name="cancel_mark"),
]
