"""URLs of the adverse_events app (included under /adverse_events/)."""

from django.urls import path  # noqa: F401

app_name = "adverse_events"
urlpatterns: list = []
