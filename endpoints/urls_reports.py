"""URLs of the report, casebook-PDF and data-export builds (included by endpoints.urls, namespace ``endpoints``)."""

from django.urls import path

from endpoints import jobs, views_reports

jobs.register_nav()

urlpatterns = [
    path("reports/", views_reports.job_list, name="reports"),
    path("reports/start/", views_reports.job_start, name="report_start"),
    path("reports/<int:pk>/", views_reports.job_detail, name="report_job"),
    path("reports/<int:pk>/status/", views_reports.job_status, name="report_job_status"),
    path("reports/<int:pk>/download/", views_reports.job_download, name="report_job_download"),
    path("reports/<int:pk>/retry/", views_reports.job_retry, name="report_job_retry"),
]
