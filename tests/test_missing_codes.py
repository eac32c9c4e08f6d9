"""Missing-data codes per field (issue 19 item 9; CDASH ND/UNK/NA/NASK, REDCap's missing-data codes).

The data dictionary (``CrfSpec.missing``) says which field may be left empty with which code; ``CrfBase.clean``
refuses every other code, a value beside a code and a blank required field without one, on every write path (the
services, so the browser form, the API and the importer). The code is shown in words on the detail page and in the
history, kept in the CSV export and read back by the importer, and a coded input is left out of its derivation.
"""

from __future__ import annotations

import datetime
import html
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from enrollment import imdc
from enrollment.models import Baseline
from reports.exports import KeyMap, crf_csv, missing_cell, parse_missing_cell
from sabr_trial import services
from sabr_trial.crf import MissingCode, missing_label, registry
from sabr_trial.selectors import history_rows
from tests import factories_enrollment as fe
from tests.factories_api import Api, crf_path, fields_of, token_for
from tests.factories_treatment import ImmunosuppressantFactory

pytestmark = pytest.mark.django_db
TODAY = fe.TODAY
DAY = datetime.timedelta(days=1)
NO_CODE = "This field takes no missing-data code: enter its value."


@pytest.fixture
def patient(coordinator, investigator):
    return fe.registered(coordinator, investigator)


def test_the_dictionary_declares_codes_per_field():
    spec = registry.get("baseline")
    assert spec.missing_codes_for("ecog") == ("ND", "UNK")
    assert spec.missing_codes_for("hgb_below_lln") == ("ND", "UNK")
    assert spec.missing_codes_for("sex") == ()  # a key demographic: never coded
    assert spec.missing_of("kps").feeds  # KPS feeds the IMDC risk group
    assert registry.get("medical-history").missing_codes_for("baseline_grade") == ("UNK",)
    assert registry.get("toripalimab").missing_codes_for("lot_number") == ("UNK",)
    assert registry.get("consent").missing_fields() == []  # consent answers are never coded
    assert registry.get("eligibility").missing_fields() == []


def test_codes_in_words_in_both_languages():
    assert [missing_label(c) for c in MissingCode.values] == [
        "Not done",
        "Unknown",
        "Not applicable",
        "Not asked",
    ]
    with translation.override("zh-hans"):
        assert [missing_label(c) for c in MissingCode.values] == ["未做", "未知", "不适用", "未询问"]


def test_a_coded_field_is_saved_empty_and_shown_in_words(patient, coordinator):
    row = fe.baseline(patient, coordinator, ecog=None, missing_codes={"ecog": "ND"})
    row.refresh_from_db()
    assert row.ecog is None and row.missing_codes == {"ecog": "ND"}
    assert services._display(row, Baseline._meta.get_field("ecog")) == "Not done (ND)"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"missing_codes": {"sex": "UNK"}}, "sex", NO_CODE),
        (
            {"ecog": None, "missing_codes": {"ecog": "NA"}},
            "ecog",
            "“Not applicable” (NA) is not allowed for this field. It allows: Not done (ND), Unknown (UNK).",
        ),
        (
            {"ecog": None, "missing_codes": {"ecog": "XX"}},
            "ecog",
            "“XX” is not a missing-data code. This field allows: Not done (ND), Unknown (UNK).",
        ),
        (
            {"missing_codes": {"ecog": "ND"}},
            "ecog",
            "A field marked “Not done” stays empty: remove the value or the code.",
        ),
        (
            {"ecog": None},
            "ecog",
            "This field is required: enter its value or choose a missing-data code (Not done (ND), Unknown (UNK)).",
        ),
        (
            {"missing_codes": {"no_such_field": "ND"}},
            "__all__",
            "“no_such_field” is not a field of this form: it cannot take a missing-data code.",
        ),
    ],
)
def test_the_service_refuses_a_code_the_dictionary_does_not_allow(
    patient, coordinator, overrides, field, message
):
    with pytest.raises(ValidationError) as refused:
        fe.baseline(patient, coordinator, **overrides)
    assert refused.value.message_dict[field] == [message]
    assert not Baseline.objects.filter(patient=patient).exists()


def test_an_optional_field_may_be_coded_and_a_code_change_is_a_change_with_history(patient, coordinator):
    row = fe.baseline(patient, coordinator)
    row, changes = services.crf_update(
        instance=row,
        expected_version=row.version,
        acting_user=coordinator,
        data={"ecog": None, "missing_codes": {"ecog": "UNK"}},
        reason="",
    )
    assert [c.field for c in changes] == ["ecog"]
    assert (changes[0].old, changes[0].new) == ("1", "Unknown (UNK)")
    row, changes = services.crf_update(
        instance=row,
        expected_version=row.version,
        acting_user=coordinator,
        data={"missing_codes": {"ecog": "ND"}},
        reason="",
    )
    assert [(c.field, c.old, c.new) for c in changes] == [("ecog", "Unknown (UNK)", "Not done (ND)")]
    newest = history_rows(row)[0]
    assert [(c.old, c.new) for c in newest["changes"]] == [("Unknown (UNK)", "Not done (ND)")]
    assert row.history.latest().missing_codes == {"ecog": "ND"}


def test_browser_form_offers_the_codes_beside_the_field_and_saves_one(as_coordinator, patient):
    url = reverse("crf_create", args=[patient.pk, "baseline"])
    page = as_coordinator.get(url).content.decode()
    assert 'name="missing__kps"' in page and 'data-missing-for="kps"' in page
    assert 'name="missing__sex"' not in page
    assert "js/missing.js" in page
    data = fe.post_data(fe.baseline_data(kps=None, ecog=1))
    data.update({"missing__kps": "UNK", "action": "submit"})
    response = as_coordinator.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    row = Baseline.objects.get(patient=patient)
    assert row.kps is None and row.missing_codes == {"kps": "UNK"}
    detail = as_coordinator.get(row.get_absolute_url()).content.decode()
    assert "Unknown (UNK)" in detail


def test_browser_form_refuses_a_posted_code_on_a_field_that_allows_none(as_coordinator, patient):
    url = reverse("crf_create", args=[patient.pk, "baseline"])
    data = fe.post_data(fe.baseline_data())
    data.update({"missing__sex": "UNK", "action": "submit"})
    response = as_coordinator.post(url, data)
    assert response.status_code == 200
    assert html.escape(NO_CODE) in response.content.decode()
    assert not Baseline.objects.filter(patient=patient).exists()


def test_api_takes_and_refuses_codes_as_the_form_does(coordinator, patient):
    api = Api(token_for(coordinator))
    catalogue = {c["slug"]: c for c in api.get("crfs/").json()}
    assert catalogue["baseline"]["missing_codes"]["ecog"] == ["ND", "UNK"]
    body = {k: v for k, v in fe.baseline_data().items() if v is not None}
    refused = api.post(crf_path(patient, "baseline"), {**body, "missing_codes": {"sex": "UNK"}})
    assert refused.status_code == 422, refused.content
    assert fields_of(refused) == {"sex": [NO_CODE]}
    body.pop("ecog")
    created = api.post(crf_path(patient, "baseline"), {**body, "missing_codes": {"ecog": "ND"}})
    assert created.status_code == 201, created.content
    assert created.json()["missing_codes"] == {"ecog": "ND"} and created.json()["ecog"] is None
    row = Baseline.objects.get(patient=patient)
    # A value given later replaces the code (the API keeps the other codes).
    changed = api.patch(crf_path(patient, "baseline", row.pk), {"ecog": 2, "kps": 60}, if_match=row.version)
    assert changed.status_code == 200, changed.content
    assert changed.json()["missing_codes"] == {} and changed.json()["ecog"] == 2


def test_imdc_leaves_an_unknown_factor_out_and_gives_a_group_only_when_it_is_decided():
    base = {"diagnosis_date": TODAY - 800 * DAY, "assessment_date": TODAY, "first_systemic_dose_date": None}
    unknown_kps = imdc.imdc_risk(
        imdc.ImdcInputs(
            kps=None,
            hgb_below_lln=True,
            calcium_above_uln=True,
            neutrophils_above_uln=True,
            platelets_above_uln=False,
            **base,
        )
    )
    assert (unknown_kps.score, unknown_kps.group) == (
        None,
        imdc.ImdcGroup.POOR,
    )  # 3 known factors: poor anyway
    assert unknown_kps.unknown == (imdc.ImdcFactor.KPS_BELOW_80,) and unknown_kps.kps_below_80 is None
    undecided = imdc.imdc_risk(
        imdc.ImdcInputs(
            kps=None,
            hgb_below_lln=False,
            calcium_above_uln=False,
            neutrophils_above_uln=False,
            platelets_above_uln=None,
            **base,
        )
    )
    assert (undecided.score, undecided.group) == (None, None)


def test_baseline_with_a_coded_imdc_input_stores_no_group_unless_decided(patient, coordinator, investigator):
    row = fe.baseline(patient, coordinator, kps=None, missing_codes={"kps": "UNK"})
    assert (row.imdc_score, row.imdc_group, row.kps_below_80) == (None, "", "")
    other = fe.registered(coordinator, investigator)
    poor = fe.baseline(
        other,
        coordinator,
        kps=None,
        hgb_below_lln="",
        calcium_above_uln="Y",
        neutrophils_above_uln="Y",
        platelets_above_uln="Y",
        missing_codes={"kps": "UNK", "hgb_below_lln": "ND"},
    )
    assert (poor.imdc_score, poor.imdc_group) == (None, "POOR")


def test_unknown_steroid_dose_gives_no_prednisone_equivalent():
    row = ImmunosuppressantFactory(dose=None, missing_codes={"dose": "UNK"})
    assert row.pred_equiv_mg_day is None and row.missing_codes == {"dose": "UNK"}
    with pytest.raises(ValidationError) as refused:
        ImmunosuppressantFactory(dose=None)
    assert "dose" in refused.value.message_dict


def test_csv_carries_the_codes_in_one_column_and_reads_them_back(patient, coordinator):
    fe.baseline(patient, coordinator, ecog=None, kps=None, missing_codes={"kps": "UNK", "ecog": "ND"})
    table = crf_csv(registry.get("baseline"), KeyMap()).decode().splitlines()
    header, row = table[0].split(","), table[1].split(",")
    assert header[-1] == "missing_codes" and row[-1] == "ecog=ND;kps=UNK"
    assert parse_missing_cell("ecog=ND;kps=UNK") == {"ecog": "ND", "kps": "UNK"}
    assert missing_cell({"kps": "UNK", "ecog": "ND"}, Baseline) == "ecog=ND;kps=UNK"
    for bad in ("ecog", "ecog=", "ecog=ND;ecog=UNK"):
        with pytest.raises(ValueError):
            parse_missing_cell(bad)


def test_steroid_dose_code_survives_a_decimal_field(patient, coordinator):
    row = ImmunosuppressantFactory(patient=patient, dose=None, missing_codes={"dose": "UNK"})
    assert services._display(row, type(row)._meta.get_field("dose")) == "Unknown (UNK)"
    assert row.dose is None and Decimal("0") != row.pred_equiv_mg_day


def test_a_coded_input_of_a_derivation_raises_a_query_naming_field_and_code_until_a_value_is_given(
    patient, coordinator
):
    from sabr_trial import editchecks
    from sabr_trial.models import Query
    from sabr_trial.templatetags.ruletext import text as rule_text

    row = fe.baseline(patient, coordinator, kps=None, missing_codes={"kps": "UNK"})
    row = services.crf_submit(instance=row, expected_version=row.version, acting_user=coordinator)
    editchecks.run_for_patient(patient)
    query = Query.objects.get(patient=patient, rule_id="DM-5")
    assert query.field_name == "kps" and query.query_status == Query.Status.OPEN
    shown = rule_text(query.text)
    assert shown == (
        "“Karnofsky performance status” is “Unknown” (UNK): IMDC risk group is derived without it. "
        "Enter the value if it becomes known (DM-5)."
    )
    with translation.override("zh-hans"):
        assert "“未知”（UNK）" in rule_text(query.text) and "IMDC 风险分组" in rule_text(query.text)
    # ECOG feeds no derivation: coding it raises no query.
    row, _c = services.crf_update(
        instance=row,
        expected_version=row.version,
        acting_user=coordinator,
        data={"kps": 80, "ecog": None, "missing_codes": {"ecog": "ND"}},
        reason="known now",
    )
    editchecks.run_for_patient(patient)
    query.refresh_from_db()
    assert query.query_status == Query.Status.CLOSED
    assert not Query.objects.filter(patient=patient, rule_id="DM-5").exclude(pk=query.pk).exists()


def test_casebook_page_and_pdf_show_the_code_in_words(
    as_coordinator, patient, coordinator, data_manager, tmp_path
):
    from reports import casebook_pdf
    from tests.test_casebook_pdf import pdf_text

    fe.baseline(patient, coordinator, kps=None, missing_codes={"kps": "UNK"})
    page = as_coordinator.get(reverse("casebook", args=[patient.pk])).content.decode()
    assert "Karnofsky performance status: Unknown (UNK)" in page
    text = pdf_text(casebook_pdf.build_casebook(patient, user=data_manager), tmp_path)
    assert "Unknown (UNK)" in text
    with translation.override("zh-hans"):
        zh = pdf_text(casebook_pdf.build_casebook(patient, user=data_manager), tmp_path)
    assert "未知（UNK）" in zh


def test_sdtm_rs_carries_a_coded_score_as_not_done_with_its_reason(patient, coordinator):
    import csv
    import io

    from endpoints.services import run_recompute
    from reports import exports
    from reports.exports.conformance import check_files

    fe.baseline(patient, coordinator, ecog=2, kps=None, missing_codes={"kps": "UNK"})
    snap = run_recompute(trigger="test", cutoff=TODAY)
    files = exports.sdtm_files(TODAY, snap, exports.KeyMap())
    rs = list(csv.DictReader(io.StringIO(files["sdtm/rs.csv"].decode())))
    by = {r["RSTESTCD"]: r for r in rs}
    assert (by["ECOG101"]["RSORRES"], by["ECOG101"]["RSSTAT"], by["ECOG101"]["RSCAT"]) == ("2", "", "ECOG")
    kps = by["KPS101"]
    assert (kps["RSORRES"], kps["RSSTRESC"], kps["RSSTAT"], kps["RSREASND"]) == (
        "",
        "",
        "NOT DONE",
        "UNKNOWN",
    )
    assert kps["RSDTC"] == str(fe.baseline_data()["assessment_date"])
    assert [f for f in check_files(files) if f.dataset == "RS"] == []


def test_slice_thickness_may_be_unknown_for_a_non_target_only_and_then_measurability_is_not_derived():
    from assessments.models import Lesion
    from tests.factories_assessments import LesionFactory

    kept = LesionFactory(
        role=Lesion.Role.NON_TARGET, slice_thickness_mm=None, missing_codes={"slice_thickness_mm": "UNK"}
    )
    assert kept.slice_thickness_mm is None and kept.measurable == ""  # R1.1 needs the slice: not derived
    with pytest.raises(ValidationError) as refused:
        LesionFactory(slice_thickness_mm=None, missing_codes={"slice_thickness_mm": "UNK"})
    assert refused.value.message_dict["slice_thickness_mm"] == [
        "A target needs its slice thickness: it sets the minimum measurable size (R1.1, EC-LR-2). "
        "Only a non-target's may be left unknown."
    ]


def test_a_code_on_a_field_that_does_not_apply_is_refused_as_a_value_would_be(patient, coordinator):
    from enrollment.models import MedicalHistory
    from sabr_trial.services import crf_create

    data = {
        "mh_term": "Asthma",
        "mh_category": "OTHER",
        "start_date": "2010",
        "ongoing": "N",
        "end_date": "2015",
        "baseline_grade": None,
        "systemic_tx_needed": "",
        "missing_codes": {"baseline_grade": "UNK"},
    }
    with pytest.raises(ValidationError) as refused:
        crf_create(model=MedicalHistory, patient=patient, data=data, acting_user=coordinator)
    assert refused.value.message_dict["baseline_grade"] == [
        "This field applies only when “Ongoing at consent?” is “Yes” (EC-MH-1)."
    ]
    kept = crf_create(
        model=MedicalHistory,
        patient=patient,
        acting_user=coordinator,
        data={**data, "ongoing": "Y", "end_date": "", "systemic_tx_needed": "N"},
    )
    assert kept.missing_codes == {"baseline_grade": "UNK"}
    assert (
        crf_create(
            model=MedicalHistory,
            patient=patient,
            acting_user=coordinator,
            data={**data, "start_date": "", "missing_codes": {"start_date": "UNK"}},
        ).start_date
        == ""
    )
