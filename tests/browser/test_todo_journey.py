"""To-do lists per role in the browser (issue 19 item 10): the monitor's study-wide SDV list, select-all with the
count confirmed before anything is verified; the investigator's and data manager's lists in both languages."""

from __future__ import annotations

import re

import pytest

from sabr_trial import services
from sabr_trial.crf import CrfStatus, registry
from sabr_trial.models import AuditEvent
from tests.browser.conftest import login
from tests.factories import PASSWORD, UserFactory
from tests.factories_visits import treated_patient
from visits.todo import SDV_STATUSES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _awaiting(patient=None) -> set[str]:
    out = set()
    for spec in registry.all():
        qs = spec.model.objects.filter(status__in=SDV_STATUSES, verified_at__isnull=True)
        if patient is not None:
            qs = qs.filter(patient=patient)
        out |= {f"{spec.slug}:{pk}" for pk in qs.values_list("pk", flat=True)}
    return out


def _study():
    coordinator = UserFactory(username="coord", role="coordinator")
    first = treated_patient(start_days_ago=40, study_number="SR-011")
    second = treated_patient(start_days_ago=40, study_number="SR-012")
    for patient in (first, second):
        for spec in registry.all():
            for row in spec.model.objects.filter(patient=patient, status=CrfStatus.DRAFT):
                services.crf_submit(instance=row, acting_user=coordinator)
    return first, second


def test_monitor_selects_all_of_one_patient_confirms_the_count_and_verifies_them(page, screenshot):
    first, second = _study()
    monitor = UserFactory(username="mon", role="monitor")
    mine, theirs = _awaiting(first), _awaiting(second)
    login(page, "mon", PASSWORD)
    nav = page.get_by_role("link", name=re.compile(r"^SDV"))
    assert nav.inner_text() == f"SDV {len(mine) + len(theirs)}"  # the count in the navigation
    nav.click()
    assert page.get_by_test_id("sdv-item").count() == len(mine) + len(theirs)
    screenshot("todo-sdv-list")

    page.get_by_label("Patient").fill("SR-011")
    page.get_by_role("button", name="Filter", exact=True).click()
    # count() does not wait: on a loaded machine the page was counted while it loaded
    page.wait_for_url(re.compile(r"patient=SR-011"))
    page.wait_for_load_state()
    assert page.get_by_test_id("sdv-item").count() == len(mine)
    page.get_by_role("checkbox", name="Select every form on this page").check()
    assert page.get_by_test_id("verify-selected").inner_text() == f"Verify selected… ({len(mine)})"
    screenshot("todo-sdv-selected")
    page.get_by_test_id("verify-selected").click()

    assert page.get_by_test_id("sdv-confirm-count").inner_text() == (
        f"You are about to mark {len(mine)} forms as source-data verified."
    )
    assert _awaiting(first) == mine  # nothing verified before the confirmation
    screenshot("todo-sdv-confirm")
    page.get_by_test_id("sdv-confirm-button").click()

    assert (
        f"{len(mine)} form(s) marked as source-data verified." in page.get_by_role("alert").first.inner_text()
    )
    assert _awaiting(first) == set() and _awaiting(second) == theirs
    assert AuditEvent.objects.filter(action=AuditEvent.Action.VERIFY, user=monitor).count() == len(mine)
    assert page.get_by_test_id("sdv-item").count() == 0  # the filter is kept
    nav = page.get_by_role("link", name=re.compile(r"^SDV"))
    assert nav.inner_text() == f"SDV {len(theirs)}"

    page.get_by_test_id("language-zh-hans").click()
    page.wait_for_load_state()
    page.goto("/visits/sdv/")
    assert page.get_by_role("heading", name=re.compile("待源数据核查的表单")).is_visible()
    screenshot("todo-sdv-list-zh")
    page.locator('[data-testid="sdv-item"] input[name="rows"]').first.check()
    page.get_by_test_id("verify-selected").click()
    assert (
        "您即将把 1 份表单标记为已完成源数据核查。" in page.get_by_test_id("sdv-confirm-count").inner_text()
    )
    screenshot("todo-sdv-confirm-zh")


def test_investigator_and_data_manager_lists_in_both_languages(page, screenshot):
    first, _second = _study()
    UserFactory(username="inv", role="investigator")
    login(page, "inv", PASSWORD)
    nav = page.get_by_role("link", name=re.compile(r"^To do"))
    assert re.fullmatch(r"To do \d+", nav.inner_text())
    nav.click()
    rows = page.get_by_test_id("todo-casebooks").get_by_test_id("todo-item")
    assert rows.count() == 2
    screenshot("todo-investigator")
    rows.first.get_by_role("link", name="Review and sign").click()
    assert page.url.endswith(f"/patients/{first.pk}/sign/")
    page.get_by_test_id("language-zh-hans").click()
    page.goto("/visits/todo/investigator/")
    screenshot("todo-investigator-zh")


def test_data_manager_list_in_both_languages(page, screenshot):
    import datetime

    from django.utils import timezone

    from enrollment.models import Disposition
    from sabr_trial import queries
    from tests.factories_enrollment import consent, screen

    first, _second = _study()
    coordinator = UserFactory(username="coord", role="coordinator")
    dm = UserFactory(username="dm", role="data_manager")
    failure = screen(coordinator, days_ago=20)
    consent(failure, coordinator, on=timezone.localdate() - datetime.timedelta(days=19))
    services.crf_create(
        model=Disposition,
        patient=failure,
        acting_user=coordinator,
        status=CrfStatus.SUBMITTED,
        data={"eos_date": timezone.localdate(), "eos_reason": "PHYSICIAN DECISION"},
    )
    infusion = first.treatment_toripalimabinfusion_set.get()
    query = queries.raise_query(row=infusion, text="Dose differs from the pharmacy log", acting_user=dm)
    login(page, "dm", PASSWORD)
    nav = page.get_by_role("link", name=re.compile(r"^To do"))
    assert nav.inner_text() == "To do 1"  # one query not closed, no casebook ready
    nav.click()
    under7 = page.get_by_test_id("todo-queries-lt7")
    assert under7.locator(f'[data-query="{query.pk}"]').is_visible()
    blocked = page.get_by_test_id("todo-blocked")
    assert blocked.count() == 1 and blocked.first.get_attribute("data-patient") == failure.label
    screenshot("todo-data-manager")
    blocked.first.get_by_role("link", name="Pre-lock report").click()
    assert page.url.endswith(f"/patients/{failure.pk}/lock/")
    page.get_by_test_id("language-zh-hans").click()
    page.goto("/visits/todo/data-manager/")
    screenshot("todo-data-manager-zh")
