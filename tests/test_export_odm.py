"""CDISC ODM 1.3.2: the demo study exported as one ODM file (metadata and clinical data) that validates against the
ODM 1.3.2 schema, imported into an empty database through ``import_study``'s services, and exported again:
byte-identical."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from reports.exports import build_odm, crf_files, import_odm, odm_to_crf_files
from tests.test_exports import wipe_study

pytestmark = pytest.mark.django_db

TODAY = datetime.datetime(2026, 6, 30, 10, 0, tzinfo=datetime.UTC)
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}


def odm() -> bytes:
    return build_odm(
        crf_files(),
        study_id=settings.STUDY_ID,
        study_name=settings.STUDY_TITLE,
        protocol=settings.PROTOCOL_VERSION,
        created=TODAY,
    )


def test_odm_validates_and_survives_export_import_export(django_capture_on_commit_callbacks) -> None:
    import odmlib
    from lxml import etree

    with time_machine.travel(TODAY, tick=False):
        call_command("setup_demo", "--generated", "0", stdout=io.StringIO())
        first = odm()
        files = crf_files()
        schema = etree.XMLSchema(
            etree.parse(str(Path(odmlib.__file__).parent / "schemas/odm/1.3.2/ODM1-3-2.xsd"))
        )
        doc = etree.fromstring(first)
        assert schema.validate(doc), [e.message for e in schema.error_log][:5]
        # metadata and data: a FormDef per CRF file, every patient a SubjectData
        assert doc.find(".//odm:FormDef[@OID='F.adverse-event']", NS) is not None
        subjects = {s.get("SubjectKey") for s in doc.iterfind(".//odm:SubjectData", NS)}
        assert len(subjects) == files["crf/_patients.csv"].count(b"\n") - 1
        # the ODM holds the crf/ files exactly
        back = odm_to_crf_files(first)
        assert {n: d for n, d in files.items() if n != "crf/_dictionary.csv"} == back
        wipe_study()
        coordinator = get_user_model().objects.get(username="coordinator")
        with django_capture_on_commit_callbacks(execute=True):
            result = import_odm(first, user=coordinator)
        assert result.committed and not result.problems, [str(p) for p in result.problems[:10]]
        second = odm()
    assert first == second
