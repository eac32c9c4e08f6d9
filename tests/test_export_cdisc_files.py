"""The submission files of the export: every SDTM and ADaM data set as CSV and SAS XPT v5, checked against its
metadata table by the conformance rules of ``bench/sdtm_check.py`` on the demo study (no finding), and the rules
themselves shown to find each kind of defect."""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import math
import tempfile
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command

from endpoints.services import run_recompute
from reports.exports import build_files, restore_cell
from reports.exports import metadata as md
from reports.exports.conformance import check_files

TODAY = datetime.datetime(2026, 6, 30, 10, 0, tzinfo=datetime.UTC)

# pytest-django sets up the test database only for a run that holds a django_db test: without the mark, this file
# run on its own would build the demo in the database DATABASE_URL names.
pytestmark = pytest.mark.django_db


def table(data: bytes) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(data.decode())))
    return rows[0], [[restore_cell(c) for c in r] for r in rows[1:]]


def read_xpt(data: bytes):  # type: ignore[no-untyped-def]
    import pyreadstat

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.xpt"
        path.write_bytes(data)
        return pyreadstat.read_xport(str(path))


@pytest.fixture(scope="module")
def demo_files(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock(), time_machine.travel(TODAY, tick=False):
        from django.db import transaction

        from tests.factories_adverse_events import ensure_ctcae_terms

        with transaction.atomic():
            # An earlier transactional test may have flushed the dictionary the data migration loaded; without it
            # the demo has no adverse events (and SUPPAE no rows).
            ensure_ctcae_terms()
            call_command("setup_demo", "--generated", "0", stdout=io.StringIO())
            files = build_files(run_recompute(trigger="test", cutoff=TODAY.date()))
            transaction.set_rollback(True)
    return files


def test_demo_study_has_no_conformance_finding(demo_files) -> None:
    findings = check_files(demo_files)
    assert not findings, [str(f) for f in findings[:20]]
    assert len([n for n in demo_files if n.startswith("sdtm/") and n.endswith(".csv")]) >= 25


def test_every_data_set_has_its_xpt_with_labels_types_and_the_csv_values(demo_files) -> None:
    for folder, datasets in (("sdtm", md.SDTM), ("adam", md.ADAM)):
        for name, ds in datasets.items():
            header, rows = table(demo_files[f"{folder}/{name.lower()}.csv"])
            frame, meta = read_xpt(demo_files[f"{folder}/{name.lower()}.xpt"])
            assert (meta.table_name, meta.file_label) == (name, ds.label)
            assert meta.column_names == header == ds.columns
            assert meta.column_names_to_labels == {v.name: v.label for v in ds.variables}
            assert len(frame) == len(rows), name
            for i, v in enumerate(ds.variables):
                width = meta.variable_storage_width[v.name]
                if v.numeric:
                    assert width == 8, (name, v.name)
                    for value, cell in zip(frame[v.name], (r[i] for r in rows), strict=True):
                        if v.display_format == "DATE9.":
                            assert (str(value) if cell else "") == cell or (not cell and value != value)
                        elif cell:
                            assert math.isclose(float(value), float(cell)), (name, v.name, value, cell)
                        else:
                            assert math.isnan(value)
                else:
                    assert width == max([1, *(len(r[i].encode()) for r in rows)]), (name, v.name)
                    assert list(frame[v.name]) == [r[i] for r in rows], (name, v.name)


def _files(**tables: tuple[list[str], list[list[str]]]) -> dict[str, bytes]:
    out = {}
    for path, (header, rows) in tables.items():
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([header, *rows])
        out[path.replace("__", "/") + ".csv"] = buf.getvalue().encode()
    return out


def test_the_rules_find_each_kind_of_defect() -> None:
    dm = md.DM.columns
    subject = dict.fromkeys(dm, "") | {
        "STUDYID": "S",
        "DOMAIN": "DM",
        "USUBJID": "S-1",
        "SUBJID": "1",
        "RFSTDTC": "2026-01-10",
        "SITEID": "01",
        "SEX": "X",
        "COUNTRY": "CHN",
    }
    ae = [c for c in md.AE.columns if c != "AEDECOD"]  # a Req variable missing
    record = dict.fromkeys(ae, "") | {
        "STUDYID": "S",
        "DOMAIN": "AE",
        "USUBJID": "S-1",
        "AESEQ": "1",
        "AETERM": "x",
        "AESTDTC": "2026-01-12",
        "AESTDY": "2",
        "AEENDTC": "12/01/2026",
    }
    files = _files(
        sdtm__dm=(dm, [[subject[c] for c in dm]]),
        sdtm__ae=(ae, [[record[c] for c in ae], [record[c] for c in ae]]),
    )
    rules = {(f.dataset, f.variable, f.rule) for f in check_files(files)}
    assert ("AE", "AEDECOD", "PRESENT") in rules
    assert ("DM", "SEX", "CT") in rules  # X is not in CT SEX
    assert ("AE", "AEENDTC", "ISO8601") in rules
    assert ("AE", "AESEQ", "SEQ") in rules  # AESEQ 1 twice for S-1
    assert ("AE", "AESTDY", "STUDYDAY") in rules  # 2026-01-12 is day 3 of 2026-01-10
    assert ("DS", "", "FILE") in rules
    assert ("DM", "DOMAIN", "REQUIRED") not in rules


def test_a_date_without_its_study_day_variable_is_a_finding() -> None:
    """FDA business rule FDAB032 (CORE-000328/CORE-000776), the defect CDISC CORE found in MH."""
    from reports.exports.conformance import check_metadata

    mh = md.SDTM["MH"]
    assert not [f for f in check_metadata(mh) if f.rule == "TIMING"]
    without = dataclasses.replace(mh, variables=tuple(v for v in mh.variables if v.name != "MHENDY"))
    assert [(f.variable, f.rule) for f in check_metadata(without)] == [("MHENDY", "TIMING")]


def _schema(path: str):  # type: ignore[no-untyped-def]
    """A CDISC schema as shipped in the odmlib package (MIT; the XSDs are CDISC's, redistributed there)."""
    import odmlib
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(Path(odmlib.__file__).parent / "schemas" / path)))


@pytest.mark.parametrize("folder", ["sdtm", "adam"])
def test_define_xml_is_valid_define_2_1_and_describes_every_data_set(demo_files, folder) -> None:
    from lxml import etree

    data = demo_files[f"{folder}/define.xml"]
    doc = etree.fromstring(data)
    schema = _schema("define/2.1/define2-1-0.xsd")
    assert schema.validate(doc), [e.message for e in schema.error_log][:5]
    assert b'<?xml-stylesheet type="text/xsl" href="define2-1.xsl"?>' in data
    assert etree.fromstring(demo_files[f"{folder}/define2-1.xsl"]).tag.endswith("stylesheet")
    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}
    datasets = md.SDTM if folder == "sdtm" else md.ADAM
    groups = {g.get("Name"): g for g in doc.iterfind(".//odm:ItemGroupDef", ns)}
    assert set(groups) == set(datasets)
    for name, ds in datasets.items():
        refs = [r.get("ItemOID") for r in groups[name].iterfind("odm:ItemRef", ns)]
        assert refs == [f"IT.{name}.{v.name}" for v in ds.variables]
        assert (
            groups[name].find("def:leaf", ns).get("{http://www.w3.org/1999/xlink}href")
            == f"{name.lower()}.xpt"
        )
    standards = {s.get("Name"): s.get("Version") for s in doc.iterfind(".//def:Standard", ns)}
    assert standards["CDISC/NCI"] == md.CT_VERSION
    assert standards.get("SDTMIG", standards.get("ADaMIG")) in (md.SDTMIG_VERSION, md.ADAMIG_VERSION)
    if folder == "sdtm":
        ds_terms = {
            e.get("CodedValue"): e.get("{http://www.cdisc.org/ns/def/v2.1}ExtendedValue")
            for e in doc.iterfind(".//odm:CodeList[@OID='CL.DSDECOD']/odm:EnumeratedItem", ns)
        }
        header, rows = table(demo_files["sdtm/ds.csv"])
        assert set(ds_terms) == {r[header.index("DSDECOD")] for r in rows}  # the terms used, no more
        assert ds_terms["REGISTERED"] == "Yes" and ds_terms["INFORMED CONSENT OBTAINED"] is None
        # value-level metadata: TRORRES per TRTESTCD, QVAL per QNAM
        assert doc.find(".//def:ValueListDef[@OID='VL.TR.TRORRES']", ns) is not None
        assert doc.find(".//def:ValueListDef[@OID='VL.SUPPAE.QVAL']", ns) is not None
        aeterm = doc.find(".//odm:ItemDef[@OID='IT.AE.AETERM']/def:Origin", ns)
        assert aeterm.get("Type") == "Collected" and "adverse-event.verbatim" in "".join(aeterm.itertext())
        method = doc.find(".//odm:ItemRef[@ItemOID='IT.DM.RFSTDTC']", ns).get("MethodOID")
        assert "D1" in "".join(doc.find(f".//odm:MethodDef[@OID='{method}']", ns).itertext())


def _dicts(data: bytes) -> list[dict[str, str]]:
    header, rows = table(data)
    return [dict(zip(header, r, strict=True)) for r in rows]


def test_trial_design_and_subject_elements_and_visits(demo_files) -> None:
    ts = {(r["TSPARMCD"], r["TSSEQ"]): r for r in _dicts(demo_files["sdtm/ts.csv"])}
    assert ts[("SDTIGVER", "1")]["TSVAL"] == md.SDTMIG_VERSION
    assert ts[("STYPE", "1")]["TSVCDVER"] == md.CT_VERSION  # the CT version of the coded values
    assert {ts[("TRT", str(n))]["TSVAL"] for n in (1, 2, 3)} >= {"AXITINIB", "TORIPALIMAB"}
    assert ts[("DCUTDTC", "1")]["TSVAL"] == TODAY.date().isoformat()
    assert [r["EPOCH"] for r in _dicts(demo_files["sdtm/ta.csv"])] == ["SCREENING", "TREATMENT", "FOLLOW-UP"]
    assert {r["ETCD"] for r in _dicts(demo_files["sdtm/te.csv"])} == {"SCRN", "TRT", "FU"}
    tv = {r["VISIT"]: r for r in _dicts(demo_files["sdtm/tv.csv"])}
    assert (tv["CYCLE 2"]["VISITDY"], tv["WEEK 8"]["VISITDY"]) == ("22", "57")  # q3w cycles, q8w imaging (D6)
    dm = {r["USUBJID"]: r for r in _dicts(demo_files["sdtm/dm.csv"])}
    se = _dicts(demo_files["sdtm/se.csv"])
    for u, d in dm.items():
        trt = [s for s in se if s["USUBJID"] == u and s["ETCD"] == "TRT"]
        assert [s["SESTDTC"] for s in trt] == ([d["RFXSTDTC"]] if d["RFXSTDTC"] else []), u
    sv = _dicts(demo_files["sdtm/sv.csv"])
    ec = _dicts(demo_files["sdtm/ec.csv"])
    given = {
        (e["USUBJID"], f"CYCLE {e['ECSPID'][1:]}")
        for e in ec
        if e["ECTRT"] == "TORIPALIMAB" and e["ECOCCUR"] == "Y"
    }
    assert given and given <= {(v["USUBJID"], v["VISIT"]) for v in sv}
    assert all(v["VISITNUM"] for v in sv) and len({(v["USUBJID"], v["VISITNUM"]) for v in sv}) == len(sv)


def test_define_xml_gives_supp_and_relrec_their_domain(demo_files) -> None:
    """Define-XML 2.1 ItemGroupDef@Domain on every SDTM data set: a SUPP-- names its parent domain (as in CDISC's
    MSG 2.0 sample define.xml), RELREC itself; CDISC CORE finds a SUPP--'s metadata through it (without it every
    define-based rule fails on SUPP-- with "name=SUPPAE, domain=AE is not found in Define XML")."""
    from lxml import etree

    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
    doc = etree.fromstring(demo_files["sdtm/define.xml"])
    domains = {g.get("Name"): g.get("Domain") for g in doc.iterfind(".//odm:ItemGroupDef", ns)}
    supp = [n for n in domains if n.startswith("SUPP")]
    assert supp
    assert {n: domains[n] for n in supp} == {n: n[4:] for n in supp}
    assert domains["RELREC"] == "RELREC" and domains["DM"] == "DM" and domains["TS"] == "TS"
    adam = etree.fromstring(demo_files["adam/define.xml"])
    assert {g.get("Domain") for g in adam.iterfind(".//odm:ItemGroupDef", ns)} == {None}


def test_medical_history_has_study_days_of_its_dates(demo_files) -> None:
    """FDA business rule FDAB032 (CDISC CORE CORE-000328, CORE-000776): a domain with --STDTC/--ENDTC carries
    --STDY/--ENDY. MH has no EPOCH (history precedes the study) but has MHSTDY and MHENDY: blank for a partial
    date, else the day relative to RFSTDTC (negative before it, no day 0)."""
    header, _rows = table(demo_files["sdtm/mh.csv"])
    assert "EPOCH" not in header
    assert (
        header.index("MHSTDY") > header.index("MHENDTC")
        and header.index("MHENDY") == header.index("MHSTDY") + 1
    )
    dm = {r["USUBJID"]: r for r in _dicts(demo_files["sdtm/dm.csv"])}
    checked = 0
    for r in _dicts(demo_files["sdtm/mh.csv"]):
        for dtc, dy in (("MHSTDTC", "MHSTDY"), ("MHENDTC", "MHENDY")):
            start = dm[r["USUBJID"]]["RFSTDTC"]
            if len(r[dtc]) == 10 and start:
                days = (datetime.date.fromisoformat(r[dtc]) - datetime.date.fromisoformat(start)).days
                assert r[dy] == str(days + 1 if days >= 0 else days), r
                checked += 1
            else:
                assert r[dy] == "", r
    assert checked
    xpt, meta = read_xpt(demo_files["sdtm/mh.xpt"])
    assert meta.column_names_to_labels["MHSTDY"] == "Study Day of Start of Event"
    assert md.SDTM["MH"].variable("MHENDY").core == "Perm"
