"""Every page and every API read, and the writes, cost the same number of queries in a small and a grown study
(issue 20: "query-count tests cover every page and API operation, at 1 and at 60 patients, the same number").

The pages are found, not listed: each role crawls every page its links reach (GET, HTML), one page per URL shape
(``/patients/7/forms/adverse-event/12/`` and ``/patients/8/forms/adverse-event/31/`` are one shape). The API
operations come from the live OpenAPI schema, their path parameters filled from the first patient's rows. Then the
study grows by 24 patients (synthetic casebooks and patients entered through the services, with queries and
dispositions) and the same URLs are read again: the count of each must not change. A write (browser save, API
create, update and lifecycle step) is measured the same way on the first patient.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories_api import Api, crf_path, token_for
from tests.test_query_counts import _todo_patient

pytestmark = pytest.mark.django_db

SKIP_PATHS = ("/accounts/logout", "/admin/", "/api/", "/i18n/", "/static/", "/media/", "/accounts/two-factor")
MAX_PAGES = 150
ROLES = ("coordinator", "investigator", "data_manager", "monitor")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.append(href)


def _shape(path: str) -> str:
    return re.sub(r"\d+", "#", path)


def _queries(call) -> tuple[int, int]:
    call()  # the first request after a change fills the per-generation caches (navigation counts, worklist)
    with CaptureQueriesContext(connection) as ctx:
        response = call()
    return len(ctx.captured_queries), response.status_code


def crawl(client: Client) -> list[str]:
    """One URL per shape of every HTML page reachable by links from the home page."""
    seen, shapes, queue, pages = {"/"}, set(), ["/"], []
    while queue and len(pages) < MAX_PAGES:
        url = queue.pop(0)
        response = client.get(url, follow=True)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        url = response.request["PATH_INFO"] if response.redirect_chain else url
        if url in pages:
            continue
        pages.append(url)
        parser = _Links()
        parser.feed(response.content.decode())
        for href in parser.links:
            parts = urlsplit(urljoin(url, href))
            path = parts.path
            if parts.netloc or not path.startswith("/") or path.startswith(SKIP_PATHS) or "download" in path:
                continue
            if path in seen or _shape(path) in shapes:
                continue
            seen.add(path)
            shapes.add(_shape(path))
            queue.append(path)
    return pages


def api_reads(patient) -> list[str]:
    """Every GET operation of the OpenAPI schema, with its parameters taken from ``patient``'s rows."""
    from drf_spectacular.generators import SchemaGenerator

    from adverse_events.models import CtcaeTerm
    from sabr_trial.crf import registry

    schema = SchemaGenerator().get_schema(request=None, public=True)
    code = CtcaeTerm.objects.order_by("pk").values_list("meddra_code", flat=True).first()
    crf_rows = {
        spec.slug: spec.model.objects.filter(patient=patient).order_by("pk").first()
        for spec in registry.all()
    }
    paths = []
    for path, item in schema["paths"].items():
        if "get" not in item or path.endswith(("/download/", ".svg")):
            continue
        match = re.match(r"^/api/v1/patients/\{patient_pk\}/crfs/([\w-]+)/", path)
        if match:
            row = crf_rows.get(match.group(1))
            if row is None:
                continue
            path = path.replace("{id}", str(row.pk))
        path = (
            path.replace("{slug}", "adverse-event")
            .replace("{code}", str(code))
            .replace("{patient_pk}", str(patient.pk))
        )
        if "{" in path:  # an SAE report, a job or a query: the lists of them are measured
            continue
        paths.append(path)
    return paths


@pytest.fixture
def study(as_coordinator, coordinator, data_manager):
    from bench.synthetic import generate
    from endpoints import services
    from tests.factories_adverse_events import ensure_ctcae_terms

    ensure_ctcae_terms()
    first = _todo_patient(as_coordinator, coordinator, data_manager)
    generate(2, user=coordinator, seed=5, prefix="QA")
    services.run_recompute(trigger="test", cutoff=timezone.localdate())
    return first


def _grow(as_coordinator, coordinator, data_manager) -> None:
    from bench.synthetic import generate
    from endpoints import services

    generate(20, user=coordinator, seed=6, prefix="QB")
    for _ in range(2):
        _todo_patient(as_coordinator, coordinator, data_manager)
    services.run_recompute(trigger="test", cutoff=timezone.localdate())


def test_every_page_and_api_read_costs_the_same_in_a_grown_study(
    request, study, as_coordinator, coordinator, data_manager
):
    clients = {}
    for role in ROLES:
        clients[role] = Client()
        clients[role].force_login(request.getfixturevalue(role))
    api = Api(token_for(coordinator))
    pages = {role: crawl(client) for role, client in clients.items()}
    assert sum(len(found) for found in pages.values()) >= 60, pages  # the crawl reached the study's pages
    reads = api_reads(study)
    assert len(reads) >= 25, reads

    def measure() -> dict[str, tuple[int, int]]:
        counts = {
            f"{role} {url}": _queries(lambda c=clients[role], u=url: c.get(u))
            for role, urls in pages.items()
            for url in urls
        }
        counts |= {f"api {path}": _queries(lambda p=path: api.get(p)) for path in reads}
        return counts

    small = measure()
    _grow(as_coordinator, coordinator, data_manager)
    large = measure()
    grew = {name: (small[name][0], large[name][0]) for name in small if large[name][0] != small[name][0]}
    print(f"\n{len(small)} requests measured")
    print("\n".join(f"{name:90} {n:4} -> {m:4}" for name, (n, m) in grew.items()))
    statuses = {name: (small[name][1], large[name][1]) for name in small}
    assert {name: pair for name, pair in statuses.items() if pair[0] != pair[1] or pair[0] >= 500} == {}
    assert grew == {}


def _ae_json(**changes):
    from tests.factories_adverse_events import FATIGUE, ae_payload

    body = {
        k: (None if v == "" else v)
        for k, v in ae_payload(acn_sabr="DOSE NOT CHANGED").items()
        if k != "action"
    }
    return body | {"ctcae_term": FATIGUE, "grade": 2} | changes


def _writes(client: Client, api: Api, patient) -> dict[str, tuple]:
    """(prepare, act) per write: ``act`` is measured; each call writes something new."""
    from adverse_events.models import AdverseEvent
    from tests.factories_adverse_events import ae_payload

    counter = iter(range(10_000))
    new_url = reverse("crf_create", args=[patient.pk, "adverse-event"])

    def last():
        return AdverseEvent.objects.filter(patient=patient, verbatim__startswith="qc").order_by("-pk").first()

    def browser_new():
        return client.post(new_url, ae_payload(acn_sabr="DOSE NOT CHANGED", verbatim=f"qc {next(counter)}"))

    def browser_edit():
        row = last()
        url = reverse("crf_update", args=[patient.pk, "adverse-event", row.pk])
        return client.post(
            url,
            ae_payload(
                acn_sabr="DOSE NOT CHANGED",
                verbatim=f"qc {next(counter)}",
                expected_version=row.version,
                change_reason="typo",
                onset_date=row.onset_date.isoformat(),
            ),
        )

    def api_create():
        return api.post(crf_path(patient, "adverse-event"), _ae_json(verbatim=f"qc {next(counter)}"))

    def api_patch():
        row = last()
        return api.patch(
            crf_path(patient, "adverse-event", row.pk),
            {"verbatim": f"qc {next(counter)}", "change_reason": "typo"},
            if_match=row.version,
        )

    def api_submit():
        row = last()
        return api.post(crf_path(patient, "adverse-event", row.pk, "submit"), if_match=row.version)

    return {
        "browser: new AE": (browser_new, browser_new),
        "browser: edit AE": (browser_edit, browser_edit),
        "api: create AE": (api_create, api_create),
        "api: update AE": (api_patch, api_patch),
        "api: submit AE": (api_create, api_submit),
    }


def _write_queries(prepare, act) -> tuple[int, int]:
    prepare()
    prepare() if prepare is not act else None
    with CaptureQueriesContext(connection) as ctx:
        response = act()
    return len(ctx.captured_queries), response.status_code


def test_every_write_costs_the_same_in_a_grown_study(study, as_coordinator, coordinator, data_manager):
    api = Api(token_for(coordinator))
    small = {name: _write_queries(*pair) for name, pair in _writes(as_coordinator, api, study).items()}
    assert all(status in (200, 201, 302) for _n, status in small.values()), small
    assert small["browser: new AE"][1] == 302 and small["api: create AE"][1] == 201
    _grow(as_coordinator, coordinator, data_manager)
    large = {name: _write_queries(*pair) for name, pair in _writes(as_coordinator, api, study).items()}
    print("\n".join(f"{name:20} {small[name][0]:4} {large[name][0]:4}" for name in small))
    assert {name: n for name, (n, _s) in large.items()} == {name: n for name, (n, _s) in small.items()}


def test_api_lists_cost_the_same_with_more_rows(as_coordinator, coordinator, data_manager):
    """The per-patient list and the rows across patients read users, terms and links with the rows, not per row."""
    patient = _todo_patient(as_coordinator, coordinator, data_manager)
    api = Api(token_for(coordinator))
    lists = {
        "patient's AEs": lambda: api.get(crf_path(patient, "adverse-event")),
        "AE rows": lambda: api.get("crfs/adverse-event/rows/"),
        "patient's time points": lambda: api.get(crf_path(patient, "tumour-assessment")),
        "time point rows": lambda: api.get("crfs/tumour-assessment/rows/"),
    }
    few = {name: _queries(call) for name, call in lists.items()}
    for _ in range(3):
        _todo_patient(as_coordinator, coordinator, data_manager)
    for i in range(4):
        assert api.post(crf_path(patient, "adverse-event"), _ae_json(verbatim=f"more {i}")).status_code == 201
    assert len(api.get("crfs/adverse-event/rows/").json()["results"]) >= 8
    more = {name: _queries(call) for name, call in lists.items()}
    assert more == few
