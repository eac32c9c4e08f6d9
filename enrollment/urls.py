"""URLs of the enrollment app (included under /enrollment/)."""

from django.urls import path

from enrollment import views

app_name = "enrollment"
urlpatterns = [
    path(
        "patients/<int:patient_pk>/eligibility/<int:pk>/confirm/",
        views.eligibility_confirm,
        name="eligibility_confirm",
    ),
]
