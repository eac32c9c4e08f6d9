"""REST API under /api/v1/ (issue 10): one set of operations per registered CRF, plus patients, responses,
CTCAE, endpoint results, queries, report and export jobs, SAEs and their reports, personal tokens, the OpenAPI schema
and offline docs.

API views answer 401/403 themselves, so they are exempt from the login redirect of LoginRequiredMiddleware.
"""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from api import views, views_jobs, views_queries, views_sae
from sabr_trial.crf import registry

app_name = "api"
REDOC_CSP = {"style-src": [SELF, UNSAFE_INLINE], "worker-src": [SELF, "blob:"]}


def _p(route: str, view, name: str):
    return path(route, login_not_required(view), name=name)


urlpatterns = [
    _p("", views.ApiRoot.as_view(), "root"),
    _p("schema/", SpectacularAPIView.as_view(), "schema"),
    _p("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), "docs"),
    # Redoc injects <style> elements it cannot nonce and searches in a blob: worker; allowed on this page alone.
    _p("redoc/", csp_replace(REDOC_CSP)(SpectacularRedocView.as_view(url_name="api:schema")), "redoc"),
    _p("tokens/", views.TokenList.as_view(), "tokens"),
    _p("tokens/<int:pk>/", views.TokenRevoke.as_view(), "token_revoke"),
    _p("patients/", views.PatientList.as_view(), "patients"),
    _p("patients/<int:patient_pk>/", views.PatientDetail.as_view(), "patient"),
    _p("patients/<int:patient_pk>/register/", views.PatientRegister.as_view(), "patient_register"),
    _p("patients/<int:patient_pk>/responses/", views.PatientResponses.as_view(), "patient_responses"),
    _p("crfs/", views.CrfCatalogue.as_view(), "crfs"),
    _p("eligibility-criteria/", views.EligibilityCriteria.as_view(), "eligibility_criteria"),
    _p("crfs/<slug:slug>/rows/", views.CrfRows.as_view(), "crf_rows"),
    _p("ctcae-terms/", views.CtcaeSearch.as_view(), "ctcae_search"),
    _p("ctcae-terms/<int:code>/", views.CtcaeDetail.as_view(), "ctcae_term"),
    _p("endpoints/snapshot/", views.EndpointSnapshotView.as_view(), "endpoint_snapshot"),
    _p("endpoints/patients/", views.EndpointPatients.as_view(), "endpoint_patients"),
    _p("endpoints/figures/<slug:name>.svg", views.EndpointFigure.as_view(), "endpoint_figure"),
    _p("queries/", views_queries.QueryList.as_view(), "queries"),
    _p("queries/<int:pk>/", views_queries.QueryDetail.as_view(), "query"),
    _p("queries/<int:pk>/answer/", views_queries.QueryAnswer.as_view(), "query_answer"),
    _p("queries/<int:pk>/close/", views_queries.QueryClose.as_view(), "query_close"),
    _p("queries/<int:pk>/reopen/", views_queries.QueryReopen.as_view(), "query_reopen"),
    _p("jobs/", views_jobs.JobList.as_view(), "jobs"),
    _p("jobs/<int:pk>/", views_jobs.JobDetail.as_view(), "job"),
    _p("jobs/<int:pk>/download/", views_jobs.JobDownload.as_view(), "job_download"),
    _p("jobs/<int:pk>/retry/", views_jobs.JobRetry.as_view(), "job_retry"),
    _p("saes/", views_sae.SaeList.as_view(), "saes"),
    # Before the CRF routes: "sae-reports" would otherwise read as a lifecycle step of the AE.
    _p(
        "patients/<int:patient_pk>/crfs/adverse-event/<int:pk>/sae-reports/",
        views_sae.SaeReportList.as_view(),
        "sae_reports",
    ),
    _p(
        "patients/<int:patient_pk>/crfs/adverse-event/<int:pk>/sae-reports/<int:report_pk>/",
        views_sae.SaeReportDetail.as_view(),
        "sae_report",
    ),
]

for _spec in registry.all():
    _list, _detail, _transition = views.crf_views(_spec)
    base = f"patients/<int:patient_pk>/crfs/{_spec.slug}/"
    urlpatterns += [
        _p(base, _list.as_view(), f"crf_{_spec.slug}_list"),
        _p(base + "<int:pk>/", _detail.as_view(), f"crf_{_spec.slug}_detail"),
        _p(base + "<int:pk>/<slug:action>/", _transition.as_view(), f"crf_{_spec.slug}_transition"),
    ]

urlpatterns.append(re_path(r"^.*$", login_not_required(views.NotFound.as_view()), name="not_found"))
