"""CDISC ODM 1.3.2: the study's metadata and clinical data as one ODM file, and back.

Export: every file the import reads (``crf/<slug>.csv``, the child tables and ``crf/_patients.csv``) becomes a
``FormDef`` (``F.<stem>``) with one ``ItemGroupDef`` (``IG.<stem>``) whose ``ItemDef``s (``IT.<stem>.<column>``) are its
columns in order, with the data dictionary's label, type and length; the rows become ``ClinicalData``: one
``SubjectData`` per SUBJID, one ``StudyEventData`` (``SE.STUDY``), a ``FormData`` per row whose ``FormRepeatKey`` is
the row's place in its file. Import: ``odm_to_crf_files`` turns such an ODM file back into the CSV files, in memory,
and ``import_odm`` hands them to ``reports.importer.import_study``, so every row goes through the same services,
rules and derivations as the browser. An ODM file from another system (REDCap, OpenClinica) is read the same way once
its OIDs follow this naming (a mapping of its FormDef/ItemDef OIDs is the part left to the user).
"""

from __future__ import annotations

import csv
import datetime
import io
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from reports.exports.common import restore_cell, to_csv

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ET.register_namespace("", ODM_NS)
EVENT = "SE.STUDY"
#: Data dictionary type -> ODM DataType.
_TYPES = {"date": "date", "datetime": "datetime", "integer": "integer", "boolean": "text", "key": "text"}


def _o(tag: str) -> str:
    return f"{{{ODM_NS}}}{tag}"


def _rows(data: bytes) -> tuple[list[str], list[list[str]]]:
    table = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    return table[0], [[restore_cell(c) for c in r] for r in table[1:]]


def _stem(path: str) -> str:
    return path.removeprefix("crf/").removesuffix(".csv")


def build_odm(
    files: dict[str, bytes], *, study_id: str, study_name: str, protocol: str, created: datetime.datetime
) -> bytes:
    """The ODM 1.3.2 file of the ``crf/`` files (``reports.exports.crf_files()``)."""
    dictionary: dict[tuple[str, str], dict[str, str]] = {}
    if "crf/_dictionary.csv" in files:
        header, rows = _rows(files["crf/_dictionary.csv"])
        for r in rows:
            entry = dict(zip(header, r, strict=True))
            dictionary[(entry["form"], entry["field"])] = entry
    tables = {
        _stem(p): _rows(d)
        for p, d in sorted(files.items())
        if p.startswith("crf/") and p != "crf/_dictionary.csv"
    }
    root = ET.Element(
        _o("ODM"),
        {
            "FileType": "Snapshot",
            "FileOID": f"ODM.{study_id}",
            "ODMVersion": "1.3.2",
            "CreationDateTime": created.isoformat(timespec="seconds"),
            "Granularity": "All",
            "Originator": study_id,
            "SourceSystem": "SABR-RCC EDC",
        },
    )
    study = ET.SubElement(root, _o("Study"), {"OID": f"ST.{study_id}"})
    gv = ET.SubElement(study, _o("GlobalVariables"))
    ET.SubElement(gv, _o("StudyName")).text = study_id
    ET.SubElement(gv, _o("StudyDescription")).text = study_name
    ET.SubElement(gv, _o("ProtocolName")).text = protocol
    mdv = ET.SubElement(study, _o("MetaDataVersion"), {"OID": f"MDV.{study_id}", "Name": f"{study_id} CRFs"})
    protocol_el = ET.SubElement(mdv, _o("Protocol"))
    ET.SubElement(
        protocol_el, _o("StudyEventRef"), {"StudyEventOID": EVENT, "OrderNumber": "1", "Mandatory": "Yes"}
    )
    event = ET.SubElement(
        mdv, _o("StudyEventDef"), {"OID": EVENT, "Name": "Study", "Repeating": "No", "Type": "Common"}
    )
    for order, stem in enumerate(tables, start=1):
        ET.SubElement(
            event, _o("FormRef"), {"FormOID": f"F.{stem}", "OrderNumber": str(order), "Mandatory": "No"}
        )
    items: list[ET.Element] = []
    groups: list[ET.Element] = []
    for stem, (header, rows) in tables.items():
        form = ET.SubElement(mdv, _o("FormDef"), {"OID": f"F.{stem}", "Name": stem, "Repeating": "Yes"})
        ET.SubElement(form, _o("ItemGroupRef"), {"ItemGroupOID": f"IG.{stem}", "Mandatory": "Yes"})
        group = ET.Element(_o("ItemGroupDef"), {"OID": f"IG.{stem}", "Name": stem, "Repeating": "No"})
        for order, col in enumerate(header, start=1):
            ET.SubElement(
                group,
                _o("ItemRef"),
                {"ItemOID": f"IT.{stem}.{col}", "OrderNumber": str(order), "Mandatory": "No"},
            )
            entry = dictionary.get((stem, col), {})
            length = max([1, *(len(r[order - 1]) for r in rows)])
            item = ET.Element(
                _o("ItemDef"),
                {
                    "OID": f"IT.{stem}.{col}",
                    "Name": col,
                    "DataType": _TYPES.get(entry.get("type", ""), "text"),
                },
            )
            if item.get("DataType") in ("text", "integer"):
                item.set("Length", str(length))
            if entry.get("label"):
                question = ET.SubElement(item, _o("Question"))
                ET.SubElement(question, _o("TranslatedText"), {XML_LANG: "en"}).text = entry["label"]
            items.append(item)
        groups.append(group)
    mdv.extend(groups)
    mdv.extend(items)
    clinical = ET.SubElement(
        root, _o("ClinicalData"), {"StudyOID": f"ST.{study_id}", "MetaDataVersionOID": f"MDV.{study_id}"}
    )
    by_subject: dict[str, list[tuple[str, int, list[str], list[str]]]] = defaultdict(list)
    for stem, (header, rows) in tables.items():
        subj = header.index("SUBJID")
        for n, r in enumerate(rows, start=1):
            by_subject[r[subj]].append((stem, n, header, r))
    for subjid in sorted(by_subject):
        subject = ET.SubElement(clinical, _o("SubjectData"), {"SubjectKey": subjid})
        event_data = ET.SubElement(subject, _o("StudyEventData"), {"StudyEventOID": EVENT})
        for stem, n, header, r in by_subject[subjid]:
            form = ET.SubElement(
                event_data, _o("FormData"), {"FormOID": f"F.{stem}", "FormRepeatKey": str(n)}
            )
            group = ET.SubElement(form, _o("ItemGroupData"), {"ItemGroupOID": f"IG.{stem}"})
            for col, value in zip(header, r, strict=True):
                if value != "":
                    ET.SubElement(group, _o("ItemData"), {"ItemOID": f"IT.{stem}.{col}", "Value": value})
    ET.indent(root, space=" ")
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        + ET.tostring(root, encoding="utf-8", xml_declaration=False)
        + b"\n"
    )


def odm_to_crf_files(data: bytes) -> dict[str, bytes]:
    """The ``crf/`` CSV files an ODM file of ``build_odm`` holds, byte for byte as the export writes them."""
    root = ET.fromstring(data)
    columns: dict[str, list[str]] = {}
    names = {i.get("OID"): i.get("Name") for i in root.iter(_o("ItemDef"))}
    for group in root.iter(_o("ItemGroupDef")):
        stem = str(group.get("Name"))
        columns[stem] = [str(names[ref.get("ItemOID")]) for ref in group.iter(_o("ItemRef"))]
    rows: dict[str, list[tuple[int, dict[str, str]]]] = {stem: [] for stem in columns}
    for form in root.iter(_o("FormData")):
        stem = str(form.get("FormOID")).removeprefix("F.")
        values = {
            str(i.get("ItemOID")).removeprefix(f"IT.{stem}."): str(i.get("Value"))
            for i in form.iter(_o("ItemData"))
        }
        rows[stem].append((int(str(form.get("FormRepeatKey"))), values))
    return {
        f"crf/{stem}.csv": to_csv(
            columns[stem], ([v.get(c, "") for c in columns[stem]] for _n, v in sorted(rows[stem]))
        )
        for stem in columns
    }


def import_odm(data: bytes, *, user: Any, partial: bool = False) -> Any:
    """Import an ODM file through ``import_study`` (the same services, rules and derivations as the forms)."""
    from reports.importer import import_study

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "crf"
        folder.mkdir()
        for path, content in odm_to_crf_files(data).items():
            (Path(tmp) / path).write_bytes(content)
        return import_study(Path(tmp), user=user, partial=partial)
