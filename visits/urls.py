"""Visit schedule, expected forms and the coordinator's worklist (issue 9)."""

from django.urls import path  # noqa: F401

app_name = "visits"
urlpatterns: list = []
