"""URLs of the enrollment app (included under /enrollment/)."""

from django.urls import path  # noqa: F401

app_name = "enrollment"
urlpatterns: list = []
