"""Issue 16: a bounded fuzz (hypothesis) over the browser forms and the API with the hostile cases of the issue
(lone surrogates, NUL, deep nesting, duplicate keys, huge and non-finite numbers, dates out of range): never a 5xx,
and a refusal changes nothing (row and history counts). Complements tests/test_api_schemathesis.py, whose
generated bodies follow the schema; these do not."""

from __future__ import annotations

import json
import os
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import factories_enrollment as fe
from tests.factories_api import Api, crf_path, token_for

pytestmark = pytest.mark.django_db
EXAMPLES = int(os.environ.get("HOSTILE_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HOSTILE_TEXT = st.sampled_from(
    [
        "\ud800",
        "a\udfffb",
        "\x00",
        "x\x00y",
        "\u202e",
        "=HYPERLINK(1)",
        "<script>alert(1)</script>",
        "'; --",
        "0001-01-01",
        "9999-12-31",
        "1899-12-31",
        "-1",
        "1e400",
        "NaN",
        "",
        " " * 600,
        "٣",
        "\ufeff2024-01-01",
    ]
)
DATES = st.one_of(
    st.sampled_from(
        [
            "0001-01-01",
            "0001-01-01T00:00:00",
            "9999-12-31T23:59:59-12:00",
            "1899-12-31",
            "2999-01-01",
            "0000-00-00",
            "2024-02-30",
            "-2024-01-01",
        ]
    ),
    st.dates().map(str),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([10**30, -1, 0, 2**63, 1e308]),
)
SCALARS = st.one_of(HOSTILE_TEXT, DATES, NUMBERS, st.booleans(), st.none(), st.text(max_size=40))
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
CONSENT_FIELDS = [
    "consent_type",
    "icf_version",
    "consent_datetime",
    "obtained_by",
    "withdrawn",
    "withdrawal_date",
    "withdrawal_scope",
]


def _raw_json(body: dict, *, deep: int, duplicate: str | None, constant: str | None) -> str:
    # json.dumps escapes \ud800 and \u0000 as a client would send them
    members = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in body.items()]
    if duplicate:
        members.append(f'{json.dumps(duplicate)}: "again"')
    if constant:
        members.append(f'"n": {constant}')
    text = "{" + ", ".join(members) + "}"
    return "[" * deep + text + "]" * deep


def _form(data: dict[str, str]) -> str:
    """URL-encode as a hostile client would: lone surrogates as their (invalid) UTF-8 bytes."""
    return urlencode(data, encoding="utf-8", errors="surrogatepass")


def _counts() -> tuple[int, ...]:
    from enrollment.models import Consent, Patient, ScreeningLog

    return (
        Patient.objects.count(),
        ScreeningLog.objects.count(),
        ScreeningLog.history.count(),
        Consent.objects.count(),
        Consent.history.count(),
    )


@pytest.fixture
def screened(coordinator):
    return fe.screen(coordinator)


@FUZZ
@given(
    fields=st.dictionaries(st.sampled_from(CONSENT_FIELDS), JSON_VALUES, max_size=5),
    deep=st.sampled_from([0, 0, 0, 40, 100_000]),
    duplicate=st.one_of(st.none(), st.sampled_from(CONSENT_FIELDS)),
    constant=st.one_of(st.none(), st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "9" * 5000])),
)
def test_api_consent_create_never_5xx_and_a_refusal_changes_nothing(
    coordinator, screened, fields, deep, duplicate, constant
):
    api = Api(token_for(coordinator))
    before = _counts()
    raw = _raw_json(fields, deep=deep, duplicate=duplicate, constant=constant)
    response = api.post(crf_path(screened, "consent"), raw=raw)
    assert response.status_code < 500, (raw[:300], response.content[:500])
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"
        response.content.decode("utf-8")  # never a raw surrogate in the body
        assert _counts() == before


@FUZZ
@given(
    screening_date=st.one_of(DATES, JSON_VALUES),
    extra=st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=2),
)
def test_api_screening_never_5xx(coordinator, screening_date, extra):
    api = Api(token_for(coordinator))
    before = _counts()
    response = api.post("patients/", raw=json.dumps({"screening_date": screening_date, **extra}))
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        assert _counts() == before


@FUZZ
@given(q=st.one_of(HOSTILE_TEXT, st.text(max_size=30)), registered=st.one_of(HOSTILE_TEXT, st.just("1")))
def test_api_and_page_search_never_5xx(coordinator, as_coordinator, q, registered):
    api = Api(token_for(coordinator))
    query = _form({"q": q, "registered": registered})
    for response in (
        api.client.get(f"/api/v1/patients/?{query}", headers=api.headers),
        as_coordinator.get(f"/patients/?{query}"),
    ):
        assert response.status_code < 500


@FUZZ
@given(
    form=st.fixed_dictionaries(
        {
            name: st.one_of(HOSTILE_TEXT, DATES.map(lambda d: d.replace("T", " ")), st.text(max_size=20))
            for name in CONSENT_FIELDS
        }
    ),
)
def test_browser_consent_form_never_5xx_and_a_refusal_changes_nothing(as_coordinator, screened, form):
    before = _counts()
    response = as_coordinator.post(
        f"/patients/{screened.pk}/forms/consent/new/",
        _form({**form, "action": "submit"}),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code < 500
    if response.status_code != 302:
        assert _counts() == before


@FUZZ
@given(screening_date=st.one_of(HOSTILE_TEXT, DATES))
def test_browser_new_patient_never_5xx(as_coordinator, screening_date):
    before = _counts()
    response = as_coordinator.post(
        "/patients/new/",
        _form({"screening_date": screening_date}),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code < 500
    if response.status_code != 302:
        assert _counts() == before
