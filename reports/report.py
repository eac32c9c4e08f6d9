"""The study report PDF (WeasyPrint) from one endpoint snapshot and its data cut-off.

``report_context`` reads what the snapshot does not hold (disposition, baseline, exposure, safety, AE
listing) with a fixed number of queries per section, filtered at the cut-off; efficacy numbers, figures
and derivation listings come from the snapshot unchanged, so the PDF shows what the dashboard showed.
``build_report`` renders ``templates/reports/report/report.html`` and returns the PDF bytes.
"""

from __future__ import annotations

import base64
import datetime
import logging
import re
import statistics as pystats
import textwrap
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from assessments.models import Lesion
from endpoints.models import EndpointSnapshot
from enrollment.models import Patient
from sabr_trial.context_processors import study_title
from sabr_trial.templatetags.ruletext import text as ruletext_text

Progress = Callable[[str, int], None]

FIGURES = [
    ("km_pfs1", gettext_noop("PFS1: progression-free survival from SABR start (Kaplan-Meier)"), "PFS1"),
    ("km_pfs2", gettext_noop("PFS2: second progression-free survival (Kaplan-Meier)"), "PFS2"),
    ("km_os", gettext_noop("Overall survival from treatment start (Kaplan-Meier)"), "OS"),
    ("lc_patient", gettext_noop("Local failure per patient (Aalen-Johansen; 1-KM sensitivity)"), "LC"),
    ("lc_lesion", gettext_noop("Local failure per irradiated lesion"), "LCLES"),
    # xgettext:no-python-format
    ("waterfall", gettext_noop("Waterfall: best % change of the target sum"), ""),
    ("swimmer", gettext_noop("Swimmer: time on study and treatment"), ""),
    # xgettext:no-python-format
    ("spider", gettext_noop("Spider: % change of the target sum from baseline"), ""),
]

#: When the snapshot drew a figure for some patients only (endpoints.engine caps), the report says so.
CAP_NOTES = {
    "waterfall": gettext_noop(
        "%(shown)s of %(of)s patients: evenly spaced through the sorted values; every patient's best %% change "
        "is in listing 6.2"
    ),
    "swimmer": gettext_noop("%(shown)s of %(of)s patients: those longest on study"),
    "spider": gettext_noop("%(shown)s of %(of)s patients: those with the most assessments"),
}


def _noop(stage: str, pct: int) -> None:
    return None


def _pct(n: int, total: int) -> str:
    return f"{n} ({n / total * 100:.1f}%)" if total else f"{n}"


def _median_range(values: Iterable[float | int | Decimal | None], places: int = 1) -> str:
    vals = sorted(float(v) for v in values if v is not None)
    if not vals:
        return "—"
    fmt = f"{{:.{places}f}}"
    return f"{fmt.format(pystats.median(vals))} ({fmt.format(vals[0])}–{fmt.format(vals[-1])})"


def _counts(values: Iterable[Any], total: int, labels: dict[Any, str] | None = None) -> list[tuple[str, str]]:
    counter = Counter(values)
    rows = []
    for key, n in sorted(counter.items(), key=lambda kv: (str(kv[0]) == "", str(kv[0]))):
        label = (labels or {}).get(key, str(key) if key not in ("", None) else _("Missing"))
        rows.append((label, _pct(n, total)))
    return rows


def _svg_data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def css_string(text: str) -> str:
    """Return ``text`` as a quoted CSS string (for @page margin boxes): quotes, backslashes and < > escaped."""
    escaped = (
        str(text).replace("\\", "\\5C ").replace('"', "\\22 ").replace("<", "\\3C ").replace(">", "\\3E ")
    )
    return f'"{escaped}"'


def _shorten(text: str, width: int) -> str:
    """``text`` cut at a word boundary with an ellipsis when longer than ``width`` (running header)."""
    return textwrap.shorten(text, width, placeholder=" …")


# --- Sections -------------------------------------------------------------------------------------------


def disposition(cutoff: datetime.date, snap: EndpointSnapshot) -> dict[str, Any]:
    from enrollment.models import DeathReport, Disposition, Patient, ScreeningLog

    logs = list(
        ScreeningLog.objects.filter(screening_date__lte=cutoff).values(
            "patient_id", "outcome", "failure_reason"
        )
    )
    failures = [row for row in logs if row["outcome"] == ScreeningLog.Outcome.SCREEN_FAILURE]
    withdrew = [row for row in logs if row["outcome"] == ScreeningLog.Outcome.WITHDRAWAL]
    registered_ids = set(
        Patient.objects.filter(study_number__isnull=False, registration_date__lte=cutoff).values_list(
            "pk", flat=True
        )
    )
    registered = len(registered_ids)
    # screened by the cut-off, neither out of screening nor registered by then: the rows then add up to "Screened"
    ended = {ScreeningLog.Outcome.SCREEN_FAILURE, ScreeningLog.Outcome.WITHDRAWAL}
    in_screening = sum(1 for r in logs if r["patient_id"] not in registered_ids and r["outcome"] not in ended)
    treated = int(snap.results.get("n_treated", 0))
    dispositions = list(Disposition.objects.filter(patient__registration_date__lte=cutoff))
    eot = [d for d in dispositions if d.eot_reason]
    eos = [d for d in dispositions if d.eos_date and d.eos_date <= cutoff]
    deaths = DeathReport.objects.filter(death_date__lte=cutoff).count()
    reason_labels = dict(ScreeningLog.FailureReason.choices)
    eos_labels = dict(Disposition._meta.get_field("eos_reason").choices or [])
    eot_labels = dict(Disposition._meta.get_field("eot_reason").choices or [])
    return {
        "rows": [
            (_("Screened"), str(len(logs))),
            (_("Screen failures"), str(len(failures))),
            (_("Withdrew before registration"), str(len(withdrew))),
            (_("Still in screening at the cut-off"), str(in_screening)),
            (_("Registered"), str(registered)),
            (_("Treated (any study treatment)"), _pct(treated, registered)),
            (_("On treatment at cut-off"), _pct(max(treated - len(eot), 0), registered)),
            (_("Treatment ended"), _pct(len(eot), registered)),
            (_("Off study"), _pct(len(eos), registered)),
            (_("Deaths"), _pct(deaths, registered)),
        ],
        "failure_reasons": _counts([r["failure_reason"] for r in failures], len(failures), reason_labels),
        "eot_reasons": _counts([d.eot_reason for d in eot], registered, eot_labels),
        "eos_reasons": _counts([d.eos_reason for d in eos], registered, eos_labels),
    }


def baseline(cutoff: datetime.date) -> dict[str, Any]:
    from enrollment.models import Baseline

    rows = list(
        Baseline.objects.filter(patient__study_number__isnull=False, patient__registration_date__lte=cutoff)
    )
    n = len(rows)
    sites: dict[int, set[str]] = {}
    lesion_counts: Counter[int] = Counter()
    organ_labels = {str(k): str(v) for k, v in Lesion._meta.get_field("organ").choices or []}
    lesions = Lesion.objects.filter(
        patient__study_number__isnull=False, patient__registration_date__lte=cutoff
    ).exclude(role="NEW")
    for patient_id, organ in lesions.values_list("patient_id", "organ"):
        sites.setdefault(patient_id, set()).add(organ)
        lesion_counts[patient_id] += 1
    site_counter: Counter[str] = Counter(o for s in sites.values() for o in s)
    f = Baseline._meta.get_field
    table: list[tuple[str, list[tuple[str, str]]]] = [
        (
            _("Age at consent, years: median (range)"),
            [("", _median_range((b.age_at_consent for b in rows), 0))],
        ),
        (str(f("sex").verbose_name), _counts([b.sex for b in rows], n, dict(f("sex").choices))),
        (str(f("ecog").verbose_name), _counts([b.ecog for b in rows], n)),
        (str(f("kps").verbose_name), _counts([b.kps for b in rows], n)),
        (
            str(f("histology").verbose_name),
            _counts([b.histology for b in rows], n, dict(f("histology").choices)),
        ),
        (
            str(f("sarcomatoid").verbose_name),
            _counts([b.sarcomatoid for b in rows], n, dict(f("sarcomatoid").choices)),
        ),
        (_("IMDC risk group"), _counts([b.imdc_group for b in rows], n, dict(f("imdc_group").choices or []))),
        (
            str(f("prior_nephrectomy").verbose_name),
            _counts([b.prior_nephrectomy for b in rows], n, dict(f("prior_nephrectomy").choices)),
        ),
        (_("Prior systemic lines (metastatic)"), _counts([b.prior_systemic_lines for b in rows], n)),
        (
            _("Known metastatic lesions: median (range)"),
            [("", _median_range((b.metastatic_lesion_count for b in rows), 0))],
        ),
        (
            _("Registered lesions per patient: median (range)"),
            [("", _median_range((lesion_counts.get(b.patient_id, 0) for b in rows), 0))],
        ),
        (
            _("Metastatic sites (patients with ≥ 1 lesion there)"),
            [(organ_labels.get(k, k), _pct(v, n)) for k, v in sorted(site_counter.items())],
        ),
    ]
    return {"n": n, "table": table}


def exposures(patient_ids: list[int], cutoff: datetime.date) -> list[Any]:
    """Exposure of the report's patients at the cut-off (``treatment.selectors.exposures``: four queries)."""
    from treatment.selectors import exposures as bulk

    return bulk(patient_ids, cutoff)


def exposure(cutoff: datetime.date, snap: EndpointSnapshot) -> dict[str, Any]:
    treated_ids = [p["patient_id"] for p in snap.patient_rows() if p.get("flags", {}).get("saffl")]
    ids = list(Patient.objects.filter(pk__in=treated_ids).order_by("pk").values_list("pk", flat=True))
    expos = exposures(ids, cutoff)
    targets = [t for e in expos for t in e.targets if t.first_fraction and t.first_fraction <= cutoff]
    schedules = Counter(f"{t.target.prescribed_dose_gy:g} Gy / {t.target.n_fractions} fx" for t in targets)
    axi = [e for e in expos if e.axitinib_first]
    tori = [e for e in expos if e.toripalimab_cycles]
    n = len(expos)
    return {
        "available": True,
        "n": n,
        "sabr": [
            (_("Patients with ≥ 1 SABR fraction"), _pct(len({id(e) for e in expos if e.targets}), n)),
            (_("Irradiated lesions"), str(len(targets))),
            (
                _("Lesions per patient: median (range)"),
                _median_range([sum(1 for t in e.targets if t.first_fraction) for e in expos if e.targets], 0),
            ),
            (
                _("Lesions with every planned fraction delivered"),
                _pct(sum(1 for t in targets if t.complete), len(targets)),
            ),
            (_("BED10, Gy: median (range)"), _median_range(t.target.bed10_gy for t in targets)),
            (_("EQD2 (α/β 10), Gy: median (range)"), _median_range(t.target.eqd2_10_gy for t in targets)),
        ],
        "schedules": sorted(schedules.items(), key=lambda kv: -kv[1]),
        "axitinib": [
            (_("Patients who took axitinib"), _pct(len(axi), n)),
            (_("Duration, days: median (range)"), _median_range((e.axitinib_days for e in axi), 0)),
            (_("Relative dose intensity, %: median (range)"), _median_range(e.axitinib_rdi_pct for e in axi)),
        ],
        "toripalimab": [
            (_("Patients who received toripalimab"), _pct(len(tori), n)),
            (_("Cycles: median (range)"), _median_range((e.toripalimab_cycles for e in tori), 0)),
            (
                _("Relative dose intensity, %: median (range)"),
                _median_range(e.toripalimab_rdi_pct for e in tori),
            ),
        ],
    }


def safety(cutoff: datetime.date) -> dict[str, Any]:
    from adverse_events import reporting
    from adverse_events.selectors import episodes, safety_population

    eps = [e for e in episodes() if e.onset_date <= cutoff]
    n = safety_population()

    def grade_row(label: str, gc: reporting.GradeCounts) -> dict[str, Any]:
        return {
            "label": label,
            "any": str(gc.any_grade),
            "grades": [str(c) for c in gc.by_grade],
            "g3": str(gc.grade_3_or_higher),
            "events": gc.events,
        }

    def soc_rows(rows: Iterable[reporting.SocTermRow]) -> list[dict[str, Any]]:
        return [{**grade_row(r.term or r.soc, r.counts), "is_soc": r.term is None} for r in rows]

    from endpoints.services import AGENT_LABELS

    agent_label = {agent: _(label) for agent, label in AGENT_LABELS.items()}
    return {
        "n": n,
        "n_episodes": len(eps),
        "overview": [(row.label, str(row.count)) for row in reporting.overview(eps, n)],
        "by_grade": grade_row(_("Any AE"), reporting.patients_by_worst_grade(eps, n)),
        "by_term": soc_rows(reporting.by_soc_and_term(eps, n)),
        "related": [
            grade_row(agent_label.get(r.agent, str(r.agent)), r.counts)
            for r in reporting.related_by_agent(eps, n)
        ],
        "serious": soc_rows(reporting.serious_by_soc_and_term(eps, n)),
        "immune": soc_rows(reporting.immune_related_by_soc_and_term(eps, n)),
        "actions": [
            (agent_label.get(r.agent, str(r.agent)), str(r.action), str(r.count))
            for r in reporting.leading_to_action(eps, n)
        ],
    }


def _tte_text(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if not row:
        return None
    return {
        "months": row["months"],
        "days": row["days"],
        "event": row["event"],
        "cnsr": row["cnsr"],
        # D12: a competing death's ADT is the death (Aalen-Johansen); its reason names the 1-KM censoring date.
        "adt": row["adt"],
        "reason": ruletext_text(row["reason"]),
    }


def efficacy(snap: EndpointSnapshot) -> dict[str, Any]:
    r = snap.results
    from endpoints.services import figures_in

    drawn = figures_in(snap)  # the figures with texts in the report's language
    figures = []
    for key, title, km_key in FIGURES:
        svg = drawn.get(key)
        at_risk: list[dict[str, Any]] = []
        if km_key in r.get("km", {}):
            at_risk = r["km"][km_key].get("at_risk", [])
        elif km_key == "LC":
            at_risk = r.get("lc_patient", {}).get("cumulative_incidence", {}).get("at_risk", [])
        elif km_key == "LCLES":
            at_risk = r.get("lc_lesion", {}).get("cumulative_incidence", {}).get("at_risk", [])
        note = r.get("figure_notes", {}).get(key)
        figures.append(
            {
                "key": key,
                "title": _(title),
                "src": _svg_data_uri(svg) if svg else "",
                "at_risk": at_risk,
                "competing": km_key
                in ("LC", "LCLES"),  # deaths before a local failure: a row of their own (R2.2)
                "bor_note": _("Colours: confirmed best overall response (R1.24).")
                if key in ("waterfall", "spider")
                else "",
                "cap_note": _(CAP_NOTES[key]) % note if note and key in CAP_NOTES else "",
            }
        )
    h = r.get("headline", {})
    endpoints = []
    for name, label in (
        ("PFS1", _("PFS1 (from SABR start)")),
        ("PFS2", _("PFS2")),
        ("OS", _("Overall survival")),
    ):
        row = h.get(name, {})
        endpoints.append(
            {
                "name": label,
                "estimate": _("median %(m)s months") % {"m": row.get("median", "—")},
                "nN": f"{row.get('events', 0)}/{row.get('n', 0)}",
                "landmarks": row.get("landmarks", {}),
            }
        )
    for name, label in (("LC", _("Local control per patient")), ("LCLES", _("Local control per lesion"))):
        row = h.get(name, {})
        endpoints.append(
            {
                "name": label,
                "estimate": "",
                "nN": f"{row.get('events', 0)}/{row.get('n', 0)}",
                "landmarks": row.get("landmarks", {}),
            }
        )
    bor_rows = []
    conf = r.get("response_confirmed", {}).get("counts", {})
    unconf = r.get("response_unconfirmed", {}).get("counts", {})
    conf_n = r.get("response_confirmed", {}).get("n", 0)
    for key, value in conf.items():
        bor_rows.append((key, _pct(value, conf_n), _pct(unconf.get(key, 0), conf_n)))
    # D4, R1.41 (b): the same table for the lesions not treated with protocol SABR (snapshots since the dashboard
    # shows it; older snapshots have no such key and the report says so).
    nonirr_conf = r.get("response_nonirr_confirmed", {})
    nonirr_unconf = r.get("response_nonirr_unconfirmed", {}).get("counts", {})
    nonirr_n = nonirr_conf.get("n", 0)
    nonirr_rows = [
        (key, _pct(value, nonirr_n), _pct(nonirr_unconf.get(key, 0), nonirr_n))
        for key, value in nonirr_conf.get("counts", {}).items()
    ]
    return {
        "nonirr_rows": nonirr_rows,
        "nonirr_n": nonirr_n,
        "orr_nonirr": h.get("ORR_NONIRR", {}),
        "dcr_nonirr": h.get("DCR_NONIRR", {}),
        "figures": figures,
        "endpoints": endpoints,
        "orr": h.get("ORR", {}),
        "dcr": h.get("DCR", {}),
        "orr_evaluable": r.get("response_confirmed_evaluable", {}),
        "bor_rows": bor_rows,
        "bor_n": conf_n,
    }


# --- Per-patient listings: fixed-width text ----------------------------------------------------------------
#
# A listing is a table with one row per patient whose only cell is a block of pre-formatted, fixed-width lines
# (DejaVu Sans Mono on a landscape page). WeasyPrint lays out one box per patient instead of one per value,
# which keeps 1,000 patients to seconds (a cell per value took minutes); the column header repeats on every
# page and a patient's lines never split across pages.

#: Characters per line: 7 pt DejaVu Sans Mono (0.602 em) across a landscape A4 page less margins (report.css).
LISTING_WIDTH = 172
#: Between two columns.
GAP = "  "


@dataclass(frozen=True)
class Col:
    title: str
    width: int
    right: bool = False


def columns(text: str) -> int:
    """Fixed-width columns ``text`` takes: a Chinese (east-asian wide) character takes two."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _wrap(text: Any, width: int) -> list[str]:
    text = str(text)
    if text.isascii():
        return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]
    # Chinese has no spaces: a line may break after any wide character, and between Latin words.
    lines, line = [], ""
    for token in re.findall(r"\s+|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+|.", text):
        if token.isspace():
            token = " " if line else ""
        while columns(line + token) > width:
            if line.strip():
                lines.append(line.rstrip())
                line, token = "", token.lstrip()
            else:  # a token wider than the column: cut it
                cut = 0
                while cut < len(token) and columns(token[: cut + 1]) <= width:
                    cut += 1
                lines.append(token[: max(cut, 1)])
                token = token[max(cut, 1) :]
        line += token
    if line.strip():
        lines.append(line.rstrip())
    return lines or [""]


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * max(width - columns(text), 0)
    return fill + text if right else text + fill


def text_row(cols: list[Col], cells: list[Any]) -> list[str]:
    """One record as lines: each cell wrapped within its column, the columns joined by ``GAP``."""
    wrapped = [_wrap("" if v is None else v, c.width) for v, c in zip(cells, cols, strict=True)]
    lines = []
    for i in range(max(len(w) for w in wrapped)):
        parts = [
            _pad(w[i] if i < len(w) else "", c.width, c.right) for w, c in zip(wrapped, cols, strict=True)
        ]
        lines.append(GAP.join(parts).rstrip())
    return lines


def text_span(cols: list[Col], start: int, text: str, width: int = LISTING_WIDTH) -> list[str]:
    """A note spanning the columns from ``start`` to the end of the line (``width`` characters)."""
    indent = sum(c.width + len(GAP) for c in cols[:start])
    return [" " * indent + line for line in _wrap(text, width - indent)]


def _rest(cols: list[Col], width: int = LISTING_WIDTH) -> int:
    """Width left for a last column after ``cols``."""
    return width - sum(c.width + len(GAP) for c in cols)


def is_cjk(text: str) -> bool:
    """True if ``text`` has a Chinese (east-asian wide) character: its block needs the CJK monospace font."""
    return columns(text) != len(text)


def text_listing(cols: list[Col], blocks: list[list[str]], width: int = LISTING_WIDTH) -> dict[str, Any]:
    assert sum(c.width for c in cols) + len(GAP) * (len(cols) - 1) <= width, [c.title for c in cols]
    header = "\n".join(text_row(cols, [c.title for c in cols]))
    texts = ["\n".join(lines) for lines in blocks]
    # Chinese in the listing (labels, or free text typed in Chinese) switches it to a CJK monospace font.
    cjk = any(is_cjk(t) for t in (header, *texts))
    return {"header": header, "blocks": texts, "cjk": cjk}


def _ec(t: dict[str, Any]) -> str:
    return "E" if t.get("event") else f"C {t.get('cnsr', '')}"


def derivation_listing(patients: list[dict[str, Any]]) -> dict[str, Any]:
    cols = [
        Col(_("Patient"), 10),
        Col(_("Endpoint"), 10),
        Col(_("Months (days)"), 14, right=True),
        Col(_("E/C"), 4),
        Col("ADT", 10),
    ]
    cols.append(Col(_("Reason"), _rest(cols)))
    blocks = []
    for p in patients:
        lines: list[str] = []
        rows: list[tuple[str, dict[str, Any] | None]] = [
            (k.upper(), _tte_text(p.get(k))) for k in ("pfs1", "pfs2", "os", "lc")
        ]
        rows += [(f"LCLES {x.get('lesion_code', '')}", _tte_text(x)) for x in p.get("lc_lesions", []) if x]
        for name, t in rows:
            first = "" if lines else p["study_number"]
            if t:
                lines += text_row(
                    cols, [first, name, f"{t['months']} ({t['days']})", _ec(t), t["adt"], t["reason"]]
                )
            else:
                lines += text_row(cols, [first, name, "", "", "", _("not derived (no origin)")])
        issues = [ruletext_text(i.get("message", "")) for i in p.get("issues", [])]
        if issues:
            lines += text_span(cols, 1, _("Data issues") + ": " + "; ".join(issues))
        blocks.append(lines)
    return text_listing(cols, blocks)


def bor_listing(patients: list[dict[str, Any]]) -> dict[str, Any]:
    # xgettext:no-python-format
    best_change = _("Best % change")
    cols = [
        Col(_("Patient"), 10),
        Col(_("Sets"), 13),
        Col(_("BOR (unconfirmed)"), 18),
        Col(_("Confirmed BOR"), 18),
        Col(_("Date"), 10),
        Col(best_change, 8, right=True),
    ]
    cols.append(Col(_("Rule"), _rest(cols)))
    blocks = []
    for p in patients:
        flags = p.get("flags", {})
        sets = " ".join(
            name for key, name in (("saffl", "SAF"), ("mdisfl", "MDIS"), ("rsevfl", "RSEV")) if flags.get(key)
        )
        bor, cbor, best = p.get("bor") or {}, p.get("cbor") or {}, p.get("best_pct_change")
        row = [
            p["study_number"],
            sets,
            bor.get("response") or "—",
            cbor.get("response") or "—",
            cbor.get("date") or "",
            "" if best in (None, "") else best,
            ruletext_text(cbor.get("rule") or ""),
        ]
        blocks.append(text_row(cols, row))
    return text_listing(cols, blocks)


def ae_listing(cutoff: datetime.date, min_grade: int = 3) -> dict[str, Any]:
    """AEs of grade >= ``min_grade`` with onset up to the cut-off, one block per patient."""
    from adverse_events.models import AdverseEvent

    cols = [
        Col(_("Patient"), 10),
        Col(_("CTCAE term"), 32),
        Col(_("Grade"), 5, right=True),
        Col(_("Onset"), 10),
        Col(_("End"), 10),
        Col(_("Serious"), 7),
        Col("irAE", 4),
        Col(_("Rel. SABR"), 14),
        Col(_("Rel. axitinib"), 14),
        Col(_("Rel. toripalimab"), 14),
    ]
    cols.append(Col(_("Outcome"), _rest(cols)))
    qs = (
        AdverseEvent.objects.filter(grade__gte=min_grade, onset_date__lte=cutoff)
        .select_related("patient", "ctcae_term")
        .order_by("patient__study_number", "onset_date", "pk")
    )
    blocks: list[list[str]] = []
    current = None
    for ae in qs:
        label = ae.patient.label
        if label != current:
            blocks.append([])
            current = label
        first = "" if blocks[-1] else label
        blocks[-1] += text_row(
            cols,
            [
                first,
                ae.ctcae_term.term,
                ae.grade,
                ae.onset_date.isoformat(),
                ae.resolution_date.isoformat() if ae.resolution_date else _("ongoing"),
                ae.serious,
                ae.immune_related,
                ae.rel_sabr,
                ae.rel_axitinib,
                ae.rel_toripalimab,
                ae.outcome,
            ],
        )
    return text_listing(cols, blocks)


def report_context(snap: EndpointSnapshot, *, user: Any, progress: Progress = _noop) -> dict[str, Any]:
    cutoff = snap.data_cutoff
    timings: dict[str, float] = {}
    t = time.perf_counter()
    progress(_("Disposition and baseline"), 10)
    ctx: dict[str, Any] = {"disposition": disposition(cutoff, snap), "baseline": baseline(cutoff)}
    timings["disposition_baseline_s"] = time.perf_counter() - t
    t = time.perf_counter()
    progress(_("Treatment exposure"), 25)
    ctx["exposure"] = exposure(cutoff, snap)
    timings["exposure_s"] = time.perf_counter() - t
    t = time.perf_counter()
    progress(_("Efficacy and figures"), 40)
    ctx["efficacy"] = efficacy(snap)
    progress(_("Safety tables"), 50)
    ctx["safety"] = safety(cutoff)
    progress(_("Per-patient listings"), 58)
    patients = snap.patient_rows()
    ctx["derivation_listing"] = derivation_listing(patients)
    ctx["bor_listing"] = bor_listing(patients)
    ctx["ae_listing"] = ae_listing(cutoff)
    timings["efficacy_safety_listings_s"] = time.perf_counter() - t
    ctx.update(
        snap=snap,
        r=snap.results,
        cutoff=cutoff,
        study_id=settings.STUDY_ID,
        study_title=study_title(),
        protocol_version=settings.PROTOCOL_VERSION,
        generated_by=(user.get_full_name() or user.get_username()) if user else "",
        generated_at=timezone.localtime(),
        timings=timings,
        css_header_left=css_string(_shorten(f"{settings.STUDY_ID} · {study_title()}", 100)),
        css_header_right=css_string(_("Data cut-off %(d)s") % {"d": cutoff.isoformat()}),
        css_footer_left=css_string(
            _("Snapshot #%(id)s · %(fp)s") % {"id": snap.pk, "fp": snap.fingerprint[:16]}
        ),
        css_page=css_string(_("Page")),
    )
    return ctx


def render_context(context: dict[str, Any]) -> str:
    return render_to_string("reports/report/report.html", context)


def render_html(snap: EndpointSnapshot, *, user: Any, progress: Progress = _noop) -> str:
    return render_context(report_context(snap, user=user, progress=progress))


@dataclass(frozen=True)
class Stage:
    """Where a PDF build's layout and writing sit on the progress bar, and how many pages it should have."""

    layout_from: int
    write_from: int
    expected_pages: int


class _PageProgress(logging.Handler):
    """Turn WeasyPrint's layout log ("Step 5 - Creating layout - Page N", logger ``weasyprint.progress``, its
    documented progress channel) into ``progress`` calls, one per percent, for the build running in this thread.

    The percentage moves from ``stage.layout_from`` to ``stage.write_from`` as pages come out, against the page
    count the caller expects (a page past it holds the bar just below the writing stage); a repagination pass
    re-announces pages already counted and does not move it back.
    """

    def __init__(self, progress: Progress, stage: Stage) -> None:
        super().__init__(level=logging.INFO)
        self.progress, self.stage = progress, stage
        self.thread = threading.get_ident()
        self.page, self.pct = 0, stage.layout_from

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread or not str(record.msg).startswith("Step 5 - Creating layout - Page"):
            return
        page = record.args[0] if isinstance(record.args, tuple) and record.args else 0
        if not isinstance(page, int) or page <= self.page:
            return
        self.page = page
        span = self.stage.write_from - self.stage.layout_from
        pct = self.stage.layout_from + min(span - 1, span * page // max(self.stage.expected_pages, 1))
        if pct > self.pct:
            self.pct = pct
            self.progress(_("Laying out the PDF pages (page %(n)s)") % {"n": page}, pct)


_WEASYPRINT_PROGRESS = logging.getLogger("weasyprint.progress")


def layout(html: str, progress: Progress | None = None, stage: Stage | None = None) -> Any:
    """Parse, style and lay out every page (WeasyPrint ``Document``); with ``progress``, report each page."""
    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    if progress is None or stage is None:
        return HTML(string=html, base_url=str(settings.BASE_DIR)).render()
    # The progress records stay with this handler: they never reach the site's log.
    _WEASYPRINT_PROGRESS.setLevel(logging.INFO)
    _WEASYPRINT_PROGRESS.propagate = False
    handler = _PageProgress(progress, stage)
    _WEASYPRINT_PROGRESS.addHandler(handler)
    try:
        progress(_("Laying out the PDF pages"), stage.layout_from)
        return HTML(string=html, base_url=str(settings.BASE_DIR)).render()
    finally:
        _WEASYPRINT_PROGRESS.removeHandler(handler)


def write_pdf(document: Any) -> bytes:
    return document.write_pdf()


def html_to_pdf(html: str, progress: Progress | None = None, stage: Stage | None = None) -> bytes:
    document = layout(html, progress, stage)
    if progress is not None and stage is not None:
        progress(_("Writing the PDF file (%(n)s pages)") % {"n": len(document.pages)}, stage.write_from)
    return write_pdf(document)


def expected_pages(context: dict[str, Any]) -> int:
    """About how many pages the report will have: the fixed sections and the listings' lines (landscape)."""
    lines = sum(
        block.count("\n") + 1
        for key in ("derivation_listing", "bor_listing", "ae_listing")
        for block in context[key]["blocks"]
    )
    return FIXED_PAGES + lines // LISTING_LINES_PER_PAGE


#: Pages of the report before its listings (title, contents, disposition ... safety) and listing lines per
#: landscape page (7 pt at 1.25 line height in 170 mm, less the repeated header), for ``expected_pages``.
FIXED_PAGES = 20
LISTING_LINES_PER_PAGE = 48


def build_report(snap: EndpointSnapshot, *, user: Any, progress: Progress = _noop) -> bytes:
    """Return the study report PDF for the snapshot (stages reported through ``progress``; the layout stage
    moves page by page from 65 to 90 %, writing the file from 90 %)."""
    context = report_context(snap, user=user, progress=progress)
    html = render_context(context)
    return html_to_pdf(
        html, progress, Stage(layout_from=65, write_from=90, expected_pages=expected_pages(context))
    )
