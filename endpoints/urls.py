"""URLs of the endpoints app (included under /endpoints/)."""

from django.urls import path  # noqa: F401

app_name = "endpoints"
urlpatterns: list = []
