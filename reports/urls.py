"""URLs of the report, casebook-PDF and data-export builds (namespace ``reports``, under /endpoints/ as before)."""

from django.urls import path

from reports import views

app_name = "reports"
urlpatterns = [
    path("reports/", views.job_list, name="reports"),
    path("reports/start/", views.job_start, name="report_start"),
    path("reports/<int:pk>/", views.job_detail, name="report_job"),
    path("reports/<int:pk>/status/", views.job_status, name="report_job_status"),
    path("reports/<int:pk>/download/", views.job_download, name="report_job_download"),
    path("reports/<int:pk>/retry/", views.job_retry, name="report_job_retry"),
]
