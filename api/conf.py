"""Settings of the REST API (issue 10): DRF, drf-spectacular (OpenAPI 3, offline docs), knox tokens.

Imported at the end of ``sabr_trial/settings.py`` with ``from api.conf import *  # noqa``.
"""

from __future__ import annotations

import datetime
import os

REST_FRAMEWORK = {
    # Personal tokens first (their 401 carries ``WWW-Authenticate: Token``), then the browser session.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.StudyPermission"],
    "DEFAULT_RENDERER_CLASSES": ["api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.StrictJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.problems.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttles.BurstThrottle", "api.throttles.SustainedThrottle"],
    # Per token (or per signed-in user for the session); a burst limit and a sustained one.
    "DEFAULT_THROTTLE_RATES": {
        "api_burst": os.environ.get("API_THROTTLE_BURST", "300/min"),
        "api_sustained": os.environ.get("API_THROTTLE_SUSTAINED", "5000/day"),
    },
    "DATE_INPUT_FORMATS": ["iso-8601"],
    "DATETIME_FORMAT": "iso-8601",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "SABR-RCC EDC API",
    "DESCRIPTION": (
        "Case report forms, lifecycle, lesions and responses, adverse events and endpoint results of the "
        "SABR + axitinib + toripalimab trial. Every write goes through the same services as the web forms "
        "(validation, reason for change, audit trail, locks). Updates and transitions need `If-Match` with "
        "the ETag (the CRF version) of the last read. Errors are `application/problem+json`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["api.permissions.StudyPermission"],
    "SWAGGER_UI_DIST": "SIDECAR",  # offline: served from drf-spectacular-sidecar, no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "DISABLE_ERRORS_AND_WARNINGS": True,
    # The deploy check would rebuild the schema and warn about enum names shared by many CRFs (Y/N...), which is
    # cosmetic; the schema is validated by tests/test_api_schemathesis.py and `manage.py spectacular --validate`.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
}

REST_KNOX = {
    "TOKEN_TTL": datetime.timedelta(days=90),  # the default; a data manager may choose 1-365 days
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": None,
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_PREFIX": "sabr_",
}

#: Longest lifetime a data manager may give a personal token.
API_TOKEN_MAX_DAYS = 365

SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "api.schema.add_problem_responses",
]
SPECTACULAR_SETTINGS["AUTHENTICATION_WHITELIST"] = [
    "api.auth.ApiTokenAuthentication",
    "rest_framework.authentication.SessionAuthentication",
]
