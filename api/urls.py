"""REST API under /api/v1/ (issue 10)."""

from django.urls import path  # noqa: F401

app_name = "api"
urlpatterns: list = []
