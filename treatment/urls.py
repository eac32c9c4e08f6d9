"""URLs of the treatment app (included under /treatment/)."""

from django.urls import path

from treatment import views

app_name = "treatment"
urlpatterns = [
    path(
        "patients/<int:patient_pk>/sabr-courses/<int:course_pk>/fraction-day/",
        views.fraction_day,
        name="fraction_day",
    ),
]
