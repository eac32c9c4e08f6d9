"""Root URLs. Every page requires login (LoginRequiredMiddleware) except the login page."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from enrollment import views as enrollment_views
from sabr_trial import dm_views, preferences, twofactor, views

urlpatterns = [
    path("", enrollment_views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/setlang/", preferences.language_switch, name="set_language"),
    path("patients/", enrollment_views.patient_list, name="patient_list"),
    path("patients/new/", enrollment_views.patient_new, name="patient_new"),
    path("patients/<int:pk>/", enrollment_views.casebook, name="casebook"),
    path("patients/<int:pk>/register/", enrollment_views.patient_register, name="patient_register"),
    path("patients/<int:patient_pk>/forms/<slug:slug>/new/", views.crf_create, name="crf_create"),
    path("patients/<int:patient_pk>/forms/<slug:slug>/<int:pk>/", views.crf_detail, name="crf_detail"),
    path("patients/<int:patient_pk>/forms/<slug:slug>/<int:pk>/edit/", views.crf_update, name="crf_update"),
    path(
        "patients/<int:patient_pk>/forms/<slug:slug>/<int:pk>/queries/new/",
        dm_views.query_raise,
        name="query_raise",
    ),
    path("patients/<int:patient_pk>/forms/<slug:slug>/<int:pk>/audit/", dm_views.crf_audit, name="crf_audit"),
    path("patients/<int:pk>/audit/", dm_views.patient_audit, name="patient_audit"),
    path("patients/<int:pk>/sdv/", dm_views.patient_sdv, name="patient_sdv"),
    path("patients/<int:pk>/sign/", dm_views.casebook_sign, name="casebook_sign"),
    path("patients/<int:pk>/lock/", dm_views.patient_lock, {"action": "lock"}, name="patient_lock"),
    path("patients/<int:pk>/unlock/", dm_views.patient_lock, {"action": "unlock"}, name="patient_unlock"),
    path("queries/", dm_views.query_list, name="query_list"),
    path("queries/<int:pk>/", dm_views.query_detail, name="query_detail"),
    path("queries/<int:pk>/<slug:action>/", dm_views.query_action, name="query_action"),
    path("study/lock/", dm_views.study_lock, name="study_lock"),
    path("account/two-factor/", twofactor.verify, name="two_factor"),
    path("study/two-factor/", twofactor.roles, name="two_factor_roles"),
    path(
        "patients/<int:patient_pk>/forms/<slug:slug>/<int:pk>/<slug:action>/",
        views.crf_transition,
        name="crf_transition",
    ),
    path("enrollment/", include("enrollment.urls")),
    path("treatment/", include("treatment.urls")),
    path("assessments/", include("assessments.urls")),
    path("adverse-events/", include("adverse_events.urls")),
    path("endpoints/", include("endpoints.urls")),
    path("endpoints/", include("reports.urls")),
    path("visits/", include("visits.urls")),
    path("api/v1/", include("api.urls")),
    path("admin/", admin.site.urls),
]

handler403 = "sabr_trial.views.error_403"
handler404 = "sabr_trial.views.error_404"
handler500 = "sabr_trial.views.error_500"
