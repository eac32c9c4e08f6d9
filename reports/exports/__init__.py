"""The data export zip: one CSV per CRF with a data dictionary, SDTM domains and ADaM data sets.

The package's modules: ``common`` (cell format, CSV writer, stable keys), ``crf_csv`` (per-CRF CSVs the import reads
back), ``metadata`` (one table per SDTM/ADaM data set, the standards and terminology versions), ``sdtm`` and
``adam``. Every public name stays importable from ``reports.exports``. ``docs/exports.md`` documents every file
and column.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from endpoints.models import EndpointSnapshot
from reports.exports.adam import (
    ADTTE_COLS,
    PARAMS,
    adam_adrs,
    adam_adsl,
    adam_adtte,
    adam_tables,
    relative_dose_intensity,
)
from reports.exports.common import (
    KEY_COLUMNS,
    NUMBER,
    RESPONSE_RANK,
    KeyMap,
    Progress,
    Row,
    _noop,
    fmt,
    neutralise_cell,
    restore_cell,
    to_csv,
)
from reports.exports.crf_csv import (
    CHILD_KEY_COLUMNS,
    CHILD_TABLES,
    MISSING_COLUMN,
    child_csv,
    child_fields,
    child_model,
    crf_csv,
    crf_files,
    dictionary_csv,
    export_fields,
    missing_cell,
    parse_missing_cell,
    patients_csv,
)
from reports.exports.define import STYLESHEET, STYLESHEET_XSL, define_xml
from reports.exports.metadata import SUPP_QUALIFIERS
from reports.exports.odm import build_odm, import_odm, odm_to_crf_files
from reports.exports.sdtm import (
    AE_COLS,
    AE_LINKS,
    CM_COLS,
    DD_COLS,
    DM_COLS,
    DS_COLS,
    EC_COLS,
    EX_COLS,
    LNKID_LINKS,
    MH_COLS,
    PR_COLS,
    RELREC_COLS,
    RS_COLS,
    SS_COLS,
    SUPP_COLS,
    TI_COLS,
    TR_COLS,
    TU_COLS,
    codelists_csv,
    relrec_csv,
    sdtm_ae,
    sdtm_dictionary_csv,
    sdtm_dm,
    sdtm_ds,
    sdtm_ex,
    sdtm_files,
    sdtm_tables,
    sdtm_tu_tr_rs,
    supp_csv,
    ti_csv,
)
from reports.exports.xpt import write_xpt

__all__ = [
    "ADTTE_COLS",
    "AE_COLS",
    "AE_LINKS",
    "CHILD_KEY_COLUMNS",
    "CHILD_TABLES",
    "CM_COLS",
    "DD_COLS",
    "DM_COLS",
    "DS_COLS",
    "EC_COLS",
    "EX_COLS",
    "KEY_COLUMNS",
    "NUMBER",
    "LNKID_LINKS",
    "MH_COLS",
    "PARAMS",
    "PR_COLS",
    "RELREC_COLS",
    "MISSING_COLUMN",
    "RESPONSE_RANK",
    "RS_COLS",
    "SS_COLS",
    "SUPP_COLS",
    "SUPP_QUALIFIERS",
    "TI_COLS",
    "TR_COLS",
    "TU_COLS",
    "KeyMap",
    "Progress",
    "Row",
    "adam_adrs",
    "adam_adsl",
    "adam_adtte",
    "adam_tables",
    "build_export",
    "build_files",
    "child_csv",
    "codelists_csv",
    "write_xpt",
    "child_fields",
    "child_model",
    "crf_csv",
    "crf_files",
    "define_xml",
    "build_odm",
    "dictionary_csv",
    "import_odm",
    "odm_to_crf_files",
    "export_fields",
    "fmt",
    "missing_cell",
    "parse_missing_cell",
    "neutralise_cell",
    "patients_csv",
    "restore_cell",
    "relative_dose_intensity",
    "relrec_csv",
    "sdtm_ae",
    "sdtm_dictionary_csv",
    "sdtm_dm",
    "sdtm_ds",
    "sdtm_ex",
    "sdtm_files",
    "sdtm_tables",
    "sdtm_tu_tr_rs",
    "supp_csv",
    "ti_csv",
    "to_csv",
]


def build_files(snap: EndpointSnapshot, progress: Progress = _noop) -> dict[str, bytes]:
    from sabr_trial.crf import registry

    keys = KeyMap()
    files: dict[str, bytes] = {}
    specs = registry.all()
    for i, spec in enumerate(specs):
        progress(_("CRF table %(form)s") % {"form": spec.title}, 5 + int(45 * i / max(len(specs), 1)))
        files[f"crf/{spec.slug}.csv"] = crf_csv(spec, keys)
    for stem in CHILD_TABLES:
        files[f"crf/{stem}.csv"] = child_csv(stem, keys)
    files["crf/_patients.csv"] = patients_csv(keys)
    files["crf/_dictionary.csv"] = dictionary_csv()
    cutoff = snap.data_cutoff
    progress(_("SDTM domains"), 55)
    sdtm = sdtm_tables(cutoff, snap, keys)
    progress(_("ADaM data sets"), 75)
    adam = adam_tables(snap, keys)
    progress(_("SAS transport files"), 82)
    for folder, tables in (("sdtm", sdtm), ("adam", adam)):
        for name, (ds, rows) in tables.items():
            files[f"{folder}/{name.lower()}.csv"] = to_csv(ds.columns, rows)
            files[f"{folder}/{name.lower()}.xpt"] = write_xpt(ds, ds.columns, rows)
        files[f"{folder}/_dictionary.csv"] = sdtm_dictionary_csv([ds for ds, _rows in tables.values()])
        files[f"{folder}/define.xml"] = define_xml(
            tables,
            study_id=settings.STUDY_ID,
            study_name=settings.STUDY_TITLE,
            standard="SDTM" if folder == "sdtm" else "ADaM",
        )
        files[f"{folder}/{STYLESHEET}"] = STYLESHEET_XSL
    files["sdtm/_codelists.csv"] = codelists_csv()
    progress(_("CDISC ODM file"), 88)
    files["odm/study.xml"] = build_odm(
        {n: d for n, d in files.items() if n.startswith("crf/")},
        study_id=settings.STUDY_ID,
        study_name=settings.STUDY_TITLE,
        protocol=settings.PROTOCOL_VERSION,
        created=timezone.now(),
    )
    files["README.txt"] = (
        f"{settings.STUDY_ID} data export\nData cut-off: {cutoff.isoformat()}\nEndpoint snapshot: #{snap.pk} "
        f"fingerprint {snap.fingerprint}\nGenerated: {timezone.localtime().isoformat(timespec='seconds')}\n"
        "Columns: see docs/exports.md of the EDC.\n"
    ).encode()
    return files


def build_export(snap: EndpointSnapshot, *, user: Any, progress: Progress = _noop) -> bytes:
    files = build_files(snap, progress)
    progress(_("Writing the zip"), 92)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            zf.writestr(name, files[name])
    return buf.getvalue()
