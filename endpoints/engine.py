"""From plain patient records to one snapshot: derivations, statistics and figures (no Django).

``compute_snapshot`` is what the recompute task runs; it takes the records the collector
read from the database and returns JSON-ready results and SVG figures. Keeping it free of
Django makes it testable with plain data and lets the benchmark time each stage.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from endpoints import plots, statistics
from endpoints.derivation import (
    DEFAULT_SETTINGS,
    DerivationSettings,
    PatientEndpoints,
    PatientRecord,
    TimeToEvent,
    derive_patient,
)
from endpoints.texts import LANDMARK, NOT_ESTIMABLE
from ruletext import Msg


@dataclass(frozen=True)
class PatientPlotData:
    """What the swimmer and spider plots need beyond the derivation, in months from treatment start."""

    patient_id: int | str
    label: str
    follow_up_months: float = 0.0
    ongoing: bool = False
    sabr: tuple[plots.Interval, ...] = ()
    axitinib: tuple[plots.Interval, ...] = ()
    toripalimab: tuple[plots.Interval, ...] = ()
    responses: tuple[tuple[float, str], ...] = ()
    progression: float | None = None
    death: float | None = None
    spider: tuple[tuple[float, float], ...] = ()


@dataclass
class SnapshotResult:
    results: dict[str, Any]
    figures: dict[str, str]
    fingerprint: str
    timings: dict[str, float] = field(default_factory=dict)
    figures_by_language: dict[str, dict[str, str]] = field(default_factory=dict)


#: Figures stay readable and their cost bounded in a large study (the benchmark's 5,000 patients): the swimmer
#: plot shows the patients longest on study, the spider plot those with the most assessments, the waterfall an
#: evenly spaced sample of the sorted bars (every patient below these numbers; the dashboard says when capped).
SWIMMER_MAX_LANES = 60
SPIDER_MAX_SERIES = 150
WATERFALL_MAX_BARS = 300


def _quantile_sample(bars: list[plots.WaterfallBar], limit: int) -> list[plots.WaterfallBar]:
    """Return every bar, or ``limit`` bars evenly spaced through the sorted values (keeps the distribution's shape)."""
    if len(bars) <= limit:
        return bars
    ordered = sorted(bars, key=lambda b: (-float(b.best_pct_change), str(b.label)))
    step = (len(ordered) - 1) / (limit - 1)
    return [ordered[round(i * step)] for i in range(limit)]


#: One converter per type, chosen on the first value of that type (a 5,000-patient snapshot converts ~360,000
#: values; dispatching on the type once saves the chain of isinstance checks for each).
_CONVERTERS: dict[type, Callable[[Any], Any]] = {}


def _identity(value: Any) -> Any:
    return value


def _converter(value: Any) -> Callable[[Any], Any]:
    if isinstance(value, Msg):  # a rule text: its id and parameters (ruletext); pages render it
        return Msg.data
    if value is None or isinstance(value, str | int | float | bool) and not hasattr(value, "value"):
        return _identity
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = tuple(f.name for f in dataclasses.fields(value))
        return lambda v: {name: _jsonable(getattr(v, name)) for name in names}
    if isinstance(value, tuple) and hasattr(
        value, "_fields"
    ):  # named tuples (SourceRef, SourcedDate): objects
        fields = value._fields
        return lambda v: {name: _jsonable(item) for name, item in zip(fields, v, strict=True)}
    if isinstance(value, datetime.date):
        return lambda v: v.isoformat()
    if isinstance(value, Decimal):
        return str
    if isinstance(value, Mapping):
        return lambda v: {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return lambda v: [_jsonable(x) for x in v]
    if hasattr(value, "value"):  # enums
        return lambda v: v.value if isinstance(v.value, str | int) else v
    return _identity


def _jsonable(value: Any) -> Any:
    """``value`` as JSON types: dataclasses and named tuples as objects, dates ISO, decimals and enums as text."""
    convert = _CONVERTERS.get(type(value))
    if convert is None:
        convert = _CONVERTERS[type(value)] = _converter(value)
    return convert(value)


def fingerprint(records: Sequence[PatientRecord], plot_data: Sequence[PatientPlotData]) -> str:
    """Return a SHA-256 of every input: the same data give the same fingerprint.

    The inputs are frozen dataclasses of dates, decimals, enums and strings, whose ``repr`` lists every field
    in a fixed order; hashing it is four times faster than a JSON dump of the same records (the benchmark).
    """
    return hashlib.sha256(repr((tuple(records), tuple(plot_data))).encode()).hexdigest()


def _tte_row(row: TimeToEvent | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out = {
        "param": row.param.value,
        "origin": row.origin.isoformat(),
        "origin_source": _jsonable(row.origin_source),
        "adt": row.adt.isoformat(),
        "days": row.days,
        "months": round(row.months, 2),
        "event": row.event,
        "cnsr": int(row.cnsr),
        "reason": _jsonable(row.reason),
        "source": _jsonable(row.source),
        "lesion_code": row.lesion_code,
    }
    if row.km_adt is not None:
        # D12: a competing death's 1-KM censoring date (the lesion's last evaluating scan); shown beside ADT.
        out["km_adt"] = row.km_adt.isoformat()
        out["km_source"] = _jsonable(row.km_source)
    return out


def _landmark_key(months: float) -> str:
    """Return a landmark's label in whole months: 365/730/1095 days read as 12/24/36 (D11)."""
    return f"{round(months)}"


def _patient_row(p: PatientEndpoints) -> dict[str, Any]:
    return {
        "patient_id": p.patient_id,
        "study_number": p.study_number,
        "pfs1": _tte_row(p.pfs1),
        "pfs2": _tte_row(p.pfs2),
        "os": _tte_row(p.os),
        "lc": _tte_row(p.lc),
        "lc_lesions": [_tte_row(r) for r in p.lc_lesions],
        "bor": _jsonable(p.bor),
        "cbor": _jsonable(p.cbor),
        "bor_nonirr": _jsonable(p.bor_nonirr),
        "cbor_nonirr": _jsonable(p.cbor_nonirr),
        "best_pct_change": str(p.best_pct_change) if p.best_pct_change is not None else None,
        "flags": _jsonable(p.flags),
        "issues": _jsonable(p.issues),
    }


def patient_row_json(p: PatientEndpoints) -> str:
    """One patient's listing row as JSON text (what the listing pages store)."""
    return json.dumps(_patient_row(p), ensure_ascii=False, separators=(",", ":"))


def compute_snapshot(
    records: Sequence[PatientRecord],
    plot_data: Sequence[PatientPlotData] = (),
    *,
    data_cutoff: datetime.date,
    settings: DerivationSettings = DEFAULT_SETTINGS,
    labels: Mapping[str, str] | None = None,
    url_template: str | None = None,
    input_fingerprint: str | None = None,
) -> SnapshotResult:
    """Derive every patient, estimate every endpoint (R5.x, R2.4) and draw the figures (D3, D7)."""
    t0 = time.perf_counter()
    derived = [derive_patient(r, settings) for r in records]
    derive_s = time.perf_counter() - t0
    result = summarise(
        derived,
        plot_data,
        data_cutoff=data_cutoff,
        labels=labels,
        url_template=url_template,
        input_fingerprint=input_fingerprint or fingerprint(records, plot_data),
    )
    result.timings = {"derive_s": derive_s, **result.timings}
    return result


def summarise(
    derived: Sequence[PatientEndpoints],
    plot_data: Sequence[PatientPlotData] = (),
    *,
    data_cutoff: datetime.date,
    input_fingerprint: str,
    labels: Mapping[str, str] | None = None,
    url_template: str | None = None,
    patient_rows: Sequence[Any] | None = None,
    labels_by_language: Mapping[str, Mapping[str, str]] | None = None,
) -> SnapshotResult:
    """Estimate every endpoint (R5.x, R2.4) and draw the figures (D3, D7) from derived patients.

    ``patient_rows``: each patient's listing row already built (``patient_row_json``, by the per-patient memo);
    by default built here as dicts.
    """
    timings: dict[str, float] = {}
    t1 = time.perf_counter()
    safety = [p for p in derived if p.flags.saffl]
    km: dict[str, statistics.KaplanMeierResult] = {}
    for name, rows in (
        ("PFS1", [p.pfs1 for p in safety if p.pfs1 is not None]),
        ("PFS2", [p.pfs2 for p in safety if p.pfs2 is not None]),
        ("OS", [p.os for p in safety if p.os is not None]),
    ):
        times, events = statistics.survival_inputs(rows)
        km[name] = statistics.kaplan_meier(times, events, label=name)
    lc_patient = statistics.local_control([p.lc for p in safety if p.lc is not None], label="LC")
    lc_lesion = statistics.local_control([r for p in safety for r in p.lc_lesions], label="LCLES")
    primary = [p for p in derived if p.flags.mdisfl]  # R5.8 primary set: measurable disease, treated
    evaluable = [p for p in derived if p.flags.rsevfl]
    confirmed = statistics.response_summary([p.cbor.response if p.cbor else None for p in primary])
    unconfirmed = statistics.response_summary([p.bor.response if p.bor else None for p in primary])
    confirmed_evaluable = statistics.response_summary(
        [p.cbor.response if p.cbor else None for p in evaluable]
    )
    # D4, R1.41 (b): response of the lesions not treated with protocol SABR, among treated patients with at
    # least one such lesion at baseline (the systemic, "abscopal" effect).
    nonirr_set = [p for p in safety if p.bor_nonirr is not None or p.cbor_nonirr is not None]
    nonirr_confirmed = statistics.response_summary(
        [p.cbor_nonirr.response if p.cbor_nonirr else None for p in nonirr_set]
    )
    nonirr_unconfirmed = statistics.response_summary(
        [p.bor_nonirr.response if p.bor_nonirr else None for p in nonirr_set]
    )
    timings["statistics_s"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    by_id = {p.patient_id: p for p in derived}
    bars = [
        plots.WaterfallBar(
            p.patient_id, p.study_number, p.best_pct_change, p.cbor.response if p.cbor else None
        )
        for p in primary
        if p.best_pct_change is not None
    ]
    lanes = sorted(
        (d for d in plot_data if d.patient_id in by_id and by_id[d.patient_id].flags.saffl),
        key=lambda d: (-d.follow_up_months, d.label),
    )
    series = sorted(
        (d for d in plot_data if d.patient_id in by_id and d.spider), key=lambda d: (-len(d.spider), d.label)
    )
    shown_bars, shown_lanes, shown_series = (
        _quantile_sample(bars, WATERFALL_MAX_BARS),
        lanes[:SWIMMER_MAX_LANES],
        series[:SPIDER_MAX_SERIES],
    )
    figure_notes = {
        key: {"shown": len(shown), "of": len(everything)}
        for key, shown, everything in (
            ("waterfall", shown_bars, bars),
            ("swimmer", shown_lanes, lanes),
            ("spider", shown_series, series),
        )
        if len(shown) < len(everything)
    }

    def draw(labels: Mapping[str, str] | None) -> dict[str, str]:
        return {
            "km_pfs1": plots.kaplan_meier_figure([km["PFS1"]], title="PFS1", labels=labels),
            "km_pfs2": plots.kaplan_meier_figure([km["PFS2"]], title="PFS2", labels=labels),
            "km_os": plots.kaplan_meier_figure([km["OS"]], title="OS", labels=labels),
            "lc_patient": plots.cumulative_incidence_figure(
                [lc_patient.cumulative_incidence, lc_patient.one_minus_km], title="LC", labels=labels
            ),
            "lc_lesion": plots.cumulative_incidence_figure(
                [lc_lesion.cumulative_incidence, lc_lesion.one_minus_km], title="LCLES", labels=labels
            ),
            "waterfall": plots.waterfall_figure(shown_bars, labels=labels, url_template=url_template),
            "swimmer": plots.swimmer_figure(
                [
                    plots.SwimmerLane(
                        d.patient_id,
                        d.label,
                        d.follow_up_months,
                        d.ongoing,
                        d.sabr,
                        d.axitinib,
                        d.toripalimab,
                        d.responses,
                        d.progression,
                        d.death,
                    )
                    for d in shown_lanes
                ],
                labels=labels,
                url_template=url_template,
            ),
            "spider": plots.spider_figure(
                [
                    plots.SpiderSeries(
                        d.patient_id,
                        d.label,
                        d.spider,
                        by_id[d.patient_id].cbor.response if by_id[d.patient_id].cbor else None,
                    )
                    for d in shown_series
                ],
                labels=labels,
                url_template=url_template,
            ),
        }

    figures = draw(labels)
    # The same figures with the texts of each other language, so every reader sees their own (issue 18).
    figures_by_language = {code: draw(texts) for code, texts in (labels_by_language or {}).items()}
    timings["plots_s"] = time.perf_counter() - t2

    headline = {
        name: {
            "median": result.median.format(),
            "events": result.events,
            "n": result.n,
            "landmarks": {
                _landmark_key(lm.time): LANDMARK(
                    rate=lm.format() if lm.estimate is not None else NOT_ESTIMABLE(), n=lm.n_at_risk
                ).data()
                for lm in result.landmarks
            },
        }
        for name, result in km.items()
    }
    for name, analysis in (("LC", lc_patient), ("LCLES", lc_lesion)):
        cif = analysis.cumulative_incidence
        headline[name] = {
            "events": cif.events,
            "n": cif.n,
            # LC rate = 1 - cumulative incidence of local failure at the landmark (R2.2, R2.4).
            "landmarks": {
                _landmark_key(lm.time): (
                    f"{(1 - lm.estimate) * 100:.1f}% ({(1 - lm.upper) * 100:.1f}–{(1 - lm.lower) * 100:.1f}%)"
                    if lm.estimate is not None and lm.lower is not None and lm.upper is not None
                    else NOT_ESTIMABLE().data()
                )
                for lm in cif.landmarks
            },
        }
    headline["ORR"] = {"confirmed": confirmed.orr.format(), "unconfirmed": unconfirmed.orr.format()}
    headline["DCR"] = {"confirmed": confirmed.dcr.format(), "unconfirmed": unconfirmed.dcr.format()}
    headline["ORR_NONIRR"] = {
        "confirmed": nonirr_confirmed.orr.format(),
        "unconfirmed": nonirr_unconfirmed.orr.format(),
    }
    headline["DCR_NONIRR"] = {
        "confirmed": nonirr_confirmed.dcr.format(),
        "unconfirmed": nonirr_unconfirmed.dcr.format(),
    }
    results = {
        "headline": headline,
        "data_cutoff": data_cutoff.isoformat(),
        "n_patients": len(derived),
        "n_treated": len(safety),
        "n_measurable": len(primary),
        "n_evaluable": len(evaluable),
        "km": {k: v.to_dict() for k, v in km.items()},
        "lc_patient": lc_patient.to_dict(),
        "lc_lesion": lc_lesion.to_dict(),
        "response_confirmed": confirmed.to_dict(),
        "response_unconfirmed": unconfirmed.to_dict(),
        "response_confirmed_evaluable": confirmed_evaluable.to_dict(),
        "n_nonirradiated": len(nonirr_set),
        "response_nonirr_confirmed": nonirr_confirmed.to_dict(),
        "response_nonirr_unconfirmed": nonirr_unconfirmed.to_dict(),
        "patients": list(patient_rows) if patient_rows is not None else [_patient_row(p) for p in derived],
        "flagged": [p.study_number for p in derived if p.issues],
        "figure_notes": figure_notes,
    }
    return SnapshotResult(
        results=results,
        figures=figures,
        fingerprint=input_fingerprint,
        timings=timings,
        figures_by_language=figures_by_language,
    )
