"""Endpoint figures as SVG strings: Kaplan-Meier, cumulative incidence, waterfall, swimmer, spider.

Pure module (matplotlib, no Django). Figures are built with the object-oriented API on an Agg canvas, never
through pyplot, so no global figure state is kept between calls. Output is deterministic for the same input
(fixed ``svg.hashsalt``, no date in the metadata, text kept as text) so snapshots can be fingerprinted.
Every text shown goes through a ``labels`` mapping (English defaults here; the Django layer passes translated
labels). Each patient's bar or line carries the SVG id ``patient-<id>`` so the dashboard can link it to the
casebook; pass ``url_template`` (e.g. ``"/patients/{patient_id}/"``) to wrap it in a link as well.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from endpoints.statistics import CumulativeIncidenceResult, KaplanMeierResult, StepCurve

__all__ = [
    "BOR_COLOURS",
    "DEFAULT_LABELS",
    "Interval",
    "SpiderSeries",
    "SwimmerLane",
    "WaterfallBar",
    "cumulative_incidence_figure",
    "kaplan_meier_figure",
    "spider_figure",
    "swimmer_figure",
    "waterfall_figure",
]

DEFAULT_LABELS: dict[str, str] = {
    "no_data": "No data",
    "months": "Months",
    "survival": "Probability",
    "number_at_risk": "Number at risk",
    "cumulative_incidence": "Cumulative incidence of local failure",
    "aalen-johansen": "Cumulative incidence (death as competing risk)",
    "1-km": "1 - Kaplan-Meier (deaths censored)",
    "censored": "Censored",
    "best_change": "Best change from baseline in sum of diameters (%)",
    "change": "Change from baseline in sum of diameters (%)",
    "patients": "Patients",
    "time_on_study": "Time on study",
    "sabr": "SABR",
    "axitinib": "Axitinib",
    "toripalimab": "Toripalimab",
    "progression": "Progression",
    "death": "Death",
    "ongoing": "Ongoing",
    "CR": "CR",
    "PR": "PR",
    "SD": "SD",
    "NON-CR/NON-PD": "Non-CR/non-PD",
    "PD": "PD",
    "NE": "NE",
    "NO ASSESSMENT": "No assessment",
}

# Response colours (confirmed BOR, D3); None = no post-baseline assessment.
BOR_COLOURS: dict[str | None, str] = {
    "CR": "#1b5e20",
    "PR": "#43a047",
    "SD": "#f9a825",
    "NON-CR/NON-PD": "#78909c",
    "PD": "#c62828",
    "NE": "#9e9e9e",
    None: "#cfcfcf",
}
_RESPONSE_MARKERS: dict[str, str] = {
    "CR": "*",
    "PR": "o",
    "SD": "s",
    "NON-CR/NON-PD": "D",
    "PD": "X",
    "NE": ".",
}
_DRUG_COLOURS = {"sabr": "#6a1b9a", "axitinib": "#1565c0", "toripalimab": "#00897b"}
_SERIES_COLOURS = ("#1f4e79", "#c0504d", "#4f8f3a", "#7f5f9f", "#e08a1e", "#3c8ea0")
_HASHSALT = "sabr-trial-edc"
_RC: Any = {  # matplotlib types rcParams keys as a Literal union
    "svg.hashsalt": _HASHSALT,
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


# ----------------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaterfallBar:
    """One patient's best % change of the target sum and confirmed BOR."""

    patient_id: int | str
    label: str
    best_pct_change: Decimal | float
    bor: str | None


@dataclass(frozen=True)
class Interval:
    """A treatment period in months from treatment start; ``end`` None = ongoing to the end of the lane."""

    start: float
    end: float | None = None


@dataclass(frozen=True)
class SwimmerLane:
    """One patient's lane: time on study, treatment periods and events, in months from treatment start."""

    patient_id: int | str
    label: str
    follow_up: float
    ongoing: bool = False
    sabr: tuple[Interval, ...] = ()
    axitinib: tuple[Interval, ...] = ()
    toripalimab: tuple[Interval, ...] = ()
    responses: tuple[tuple[float, str], ...] = ()  # (months, time-point response)
    progression: float | None = None
    death: float | None = None


@dataclass(frozen=True)
class SpiderSeries:
    """One patient's % change from baseline over time (months) and confirmed BOR for the colour."""

    patient_id: int | str
    label: str
    points: tuple[tuple[float, Decimal | float], ...]
    bor: str | None = None


# ----------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------


def _labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    merged = dict(DEFAULT_LABELS)
    if labels:
        merged.update(labels)
    return merged


@contextmanager
def _style() -> Iterator[None]:
    with matplotlib.rc_context(_RC):
        yield


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    # No creation date in the metadata: the same input gives the same bytes.
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _no_data(text: Mapping[str, str], title: str = "") -> str:
    with _style():
        figure = _figure(6.0, 3.0)
        axes = figure.add_subplot()
        axes.set_axis_off()
        axes.text(0.5, 0.5, text["no_data"], ha="center", va="center", fontsize=14, color="#555555")
        if title:
            axes.set_title(title)
        return _svg(figure)


def _nan(values: Sequence[float | None]) -> list[float]:
    return [math.nan if value is None else value for value in values]


def _patient_gid(patient_id: int | str, suffix: str = "") -> str:
    return f"patient-{patient_id}{'-' + suffix if suffix else ''}"


def _link(artist: Any, patient_id: int | str, url_template: str | None) -> None:
    if url_template:
        artist.set_url(url_template.format(patient_id=patient_id))


def _draw_step(
    axes: Any, curve: StepCurve, colour: str, label: str, *, linestyle: str = "-", band: bool
) -> None:
    axes.step(
        curve.times, curve.estimate, where="post", color=colour, linestyle=linestyle, label=label, lw=1.6
    )
    if band:
        axes.fill_between(
            curve.times, _nan(curve.lower), _nan(curve.upper), step="post", color=colour, alpha=0.15, lw=0
        )
    if curve.censor_times:
        axes.plot(
            curve.censor_times,
            curve.censor_estimate,
            linestyle="none",
            marker="|",
            markersize=8,
            color=colour,
        )


def _at_risk_table(
    figure: Figure, axes: Any, rows: Sequence[tuple[str, str, Sequence[tuple[float, int]]]], title: str
) -> None:
    """Draw the number-at-risk rows under the x axis, aligned on the x ticks of ``axes``."""
    table = figure.add_axes(
        (axes.get_position().x0, 0.03, axes.get_position().width, 0.04 + 0.045 * len(rows))
    )
    table.set_xlim(axes.get_xlim())
    table.set_ylim(-0.5, len(rows) - 0.5)
    table.set_axis_off()
    table.text(0.0, 1.0, title, transform=table.transAxes, ha="left", va="bottom", fontsize=8, weight="bold")
    lower, upper = axes.get_xlim()
    for index, (label, colour, counts) in enumerate(rows):
        y = len(rows) - 1 - index
        table.text(
            -0.02,
            y,
            label,
            transform=table.get_yaxis_transform(),
            ha="right",
            va="center",
            color=colour,
            fontsize=8,
        )
        for time, count in counts:
            if lower <= time <= upper:
                table.text(time, y, str(count), ha="center", va="center", fontsize=8)


# ----------------------------------------------------------------------------------------------------
# Survival figures
# ----------------------------------------------------------------------------------------------------


def kaplan_meier_figure(
    results: Sequence[KaplanMeierResult],
    *,
    title: str = "",
    labels: Mapping[str, str] | None = None,
    show_band: bool = True,
) -> str:
    """Return a Kaplan-Meier figure (SVG): step curves, censor marks, CI band and number at risk (months)."""
    text = _labels(labels)
    series = [result for result in results if result.n > 0]
    if not series:
        return _no_data(text, title)
    with _style():
        n_rows = len(series)
        figure = _figure(7.0, 4.6 + 0.25 * n_rows)
        bottom = 0.2 + 0.045 * n_rows
        axes = figure.add_axes((0.16, bottom, 0.8, 0.9 - bottom))
        rows = []
        for index, result in enumerate(series):
            colour = _SERIES_COLOURS[index % len(_SERIES_COLOURS)]
            name = result.label or text["survival"]
            _draw_step(axes, result.curve, colour, f"{name} (n={result.n})", band=show_band)
            rows.append((name, colour, [(item.time, item.n_at_risk) for item in result.at_risk]))
        ticks = sorted({item.time for result in series for item in result.at_risk})
        longest = max((result.curve.times[-1] for result in series if result.curve.times), default=1.0)
        axes.set_xlim(0, max([longest, *ticks]) or 1.0)
        axes.set_ylim(0, 1.02)
        if ticks:
            axes.set_xticks(ticks)
        axes.set_xlabel(text["months"])
        axes.set_ylabel(text["survival"])
        axes.legend(loc="upper right", frameon=False, fontsize=8)
        if title:
            axes.set_title(title)
        _at_risk_table(figure, axes, rows, text["number_at_risk"])
        return _svg(figure)


def cumulative_incidence_figure(
    results: Sequence[CumulativeIncidenceResult],
    *,
    title: str = "",
    labels: Mapping[str, str] | None = None,
    show_band: bool = True,
) -> str:
    """Return a cumulative-incidence figure (SVG): Aalen-Johansen solid with band, 1-KM dashed (R2.4)."""
    text = _labels(labels)
    series = [result for result in results if result.n > 0]
    if not series:
        return _no_data(text, title)
    with _style():
        n_rows = len({result.label for result in series})
        figure = _figure(7.0, 4.6 + 0.25 * n_rows)
        bottom = 0.2 + 0.045 * n_rows
        axes = figure.add_axes((0.16, bottom, 0.8, 0.9 - bottom))
        rows: dict[str, tuple[str, str, list[tuple[float, int]]]] = {}
        colours: dict[str, str] = {}
        for result in series:
            colour = colours.setdefault(result.label, _SERIES_COLOURS[len(colours) % len(_SERIES_COLOURS)])
            competing = result.method == "aalen-johansen"
            method = text.get(result.method, result.method)
            name = f"{result.label}: {method}" if result.label else method
            _draw_step(
                axes,
                result.curve,
                colour,
                f"{name} (n={result.n})",
                linestyle="-" if competing else "--",
                band=show_band and competing,
            )
            rows.setdefault(
                result.label,
                (
                    result.label or text["patients"],
                    colour,
                    [(item.time, item.n_at_risk) for item in result.at_risk],
                ),
            )
        ticks = sorted({item.time for result in series for item in result.at_risk})
        longest = max((result.curve.times[-1] for result in series if result.curve.times), default=1.0)
        axes.set_xlim(0, max([longest, *ticks]) or 1.0)
        axes.set_ylim(0, 1.02)
        if ticks:
            axes.set_xticks(ticks)
        axes.set_xlabel(text["months"])
        axes.set_ylabel(text["cumulative_incidence"])
        axes.legend(loc="upper left", frameon=False, fontsize=8)
        if title:
            axes.set_title(title)
        _at_risk_table(figure, axes, list(rows.values()), text["number_at_risk"])
        return _svg(figure)


# ----------------------------------------------------------------------------------------------------
# Patient-level figures
# ----------------------------------------------------------------------------------------------------


def _bor_legend(axes: Any, present: Sequence[str | None], text: Mapping[str, str], **kwargs: Any) -> None:
    handles = []
    for key in BOR_COLOURS:
        if key in present:
            name = text.get(key or "NO ASSESSMENT", key or "")
            handles.append(Patch(facecolor=BOR_COLOURS[key], label=name))
    if handles:
        axes.legend(handles=handles, frameon=False, fontsize=8, **kwargs)


def waterfall_figure(
    bars: Sequence[WaterfallBar],
    *,
    title: str = "",
    labels: Mapping[str, str] | None = None,
    url_template: str | None = None,
) -> str:
    """Return a waterfall of best % change (SVG), bars coloured by confirmed BOR, -30 % and +20 % lines (R1.13)."""
    text = _labels(labels)
    if not bars:
        return _no_data(text, title)
    # Largest increase on the left, deepest shrinkage on the right; ties in a stable patient order.
    ordered = sorted(bars, key=lambda bar: (-float(bar.best_pct_change), str(bar.patient_id)))
    with _style():
        figure = _figure(max(6.0, 0.22 * len(ordered) + 2.0), 4.2)
        axes = figure.add_subplot()
        for position, bar in enumerate(ordered):
            (rect,) = axes.bar(
                position,
                float(bar.best_pct_change),
                width=0.8,
                color=BOR_COLOURS.get(bar.bor, BOR_COLOURS[None]),
                edgecolor="none",
            )
            rect.set_gid(_patient_gid(bar.patient_id))
            _link(rect, bar.patient_id, url_template)
        axes.axhline(-30, color="#444444", linestyle="--", lw=0.8)  # R1.13 PR threshold
        axes.axhline(20, color="#444444", linestyle=":", lw=0.8)  # R1.14 PD threshold
        axes.axhline(0, color="#000000", lw=0.6)
        axes.set_xticks(range(len(ordered)))
        axes.set_xticklabels([bar.label for bar in ordered], rotation=90, fontsize=7)
        axes.set_xlim(-0.6, len(ordered) - 0.4)
        low = min(-35.0, *(float(bar.best_pct_change) for bar in ordered))
        high = max(25.0, *(float(bar.best_pct_change) for bar in ordered))
        axes.set_ylim(low - 5, high + 5)
        axes.set_ylabel(text["best_change"])
        axes.set_xlabel(text["patients"])
        _bor_legend(axes, [bar.bor for bar in ordered], text, loc="upper right")
        if title:
            axes.set_title(title)
        figure.tight_layout()
        return _svg(figure)


def _intervals(
    axes: Any,
    lane: SwimmerLane,
    y: float,
    key: str,
    periods: Sequence[Interval],
    offset: float,
    height: float,
) -> None:
    for number, period in enumerate(periods):
        end = period.end if period.end is not None else lane.follow_up
        rect = axes.barh(
            y + offset,
            max(end - period.start, 0.0),
            left=period.start,
            height=height,
            color=_DRUG_COLOURS[key],
        )[0]
        rect.set_gid(_patient_gid(lane.patient_id, f"{key}-{number + 1}"))


def swimmer_figure(
    lanes: Sequence[SwimmerLane],
    *,
    title: str = "",
    labels: Mapping[str, str] | None = None,
    url_template: str | None = None,
) -> str:
    """Return a swimmer plot (SVG): time on study per patient with SABR, axitinib and toripalimab bars,
    markers for responses, progression and death, and an arrow for patients still on study."""
    text = _labels(labels)
    if not lanes:
        return _no_data(text, title)
    with _style():
        figure = _figure(8.0, max(3.0, 0.32 * len(lanes) + 1.6))
        axes = figure.add_subplot()
        longest = max(lane.follow_up for lane in lanes) or 1.0
        responses_seen: set[str] = set()
        # First lane at the top, as in the input order.
        for index, lane in enumerate(lanes):
            y = float(len(lanes) - 1 - index)
            (lane_bar,) = axes.barh(
                y, lane.follow_up, height=0.8, color="#eeeeee", edgecolor="#bbbbbb", lw=0.5
            )
            lane_bar.set_gid(_patient_gid(lane.patient_id))
            _link(lane_bar, lane.patient_id, url_template)
            _intervals(axes, lane, y, "axitinib", lane.axitinib, 0.18, 0.22)
            _intervals(axes, lane, y, "toripalimab", lane.toripalimab, -0.18, 0.22)
            _intervals(axes, lane, y, "sabr", lane.sabr, 0.0, 0.14)
            for start in (period.start for period in lane.sabr):
                axes.plot(start, y, marker="v", color=_DRUG_COLOURS["sabr"], markersize=6, linestyle="none")
            for time, response in lane.responses:
                responses_seen.add(response)
                axes.plot(
                    time,
                    y,
                    marker=_RESPONSE_MARKERS.get(response, "."),
                    color=BOR_COLOURS.get(response, BOR_COLOURS[None]),
                    markeredgecolor="#333333",
                    markeredgewidth=0.4,
                    markersize=7,
                    linestyle="none",
                )
            if lane.progression is not None:
                axes.plot(lane.progression, y, marker=">", color="#c62828", markersize=7, linestyle="none")
            if lane.death is not None:
                axes.plot(lane.death, y, marker="x", color="#000000", markersize=8, mew=2, linestyle="none")
            if lane.ongoing:
                axes.annotate(
                    "",
                    xy=(lane.follow_up + 0.04 * longest, y),
                    xytext=(lane.follow_up, y),
                    arrowprops={"arrowstyle": "->", "color": "#333333", "lw": 1.2},
                )
        axes.set_yticks([float(len(lanes) - 1 - index) for index in range(len(lanes))])
        axes.set_yticklabels([lane.label for lane in lanes], fontsize=7)
        axes.set_ylim(-0.7, len(lanes) - 0.3)
        axes.set_xlim(0, longest * 1.08)
        axes.set_xlabel(f"{text['time_on_study']} ({text['months'].lower()})")
        handles: list[Any] = [
            Patch(facecolor=_DRUG_COLOURS[key], label=text[key])
            for key in ("sabr", "axitinib", "toripalimab")
        ]
        for response in _RESPONSE_MARKERS:
            if response in responses_seen:
                handles.append(
                    Line2D(
                        [],
                        [],
                        marker=_RESPONSE_MARKERS[response],
                        color=BOR_COLOURS[response],
                        linestyle="none",
                        label=text.get(response, response),
                    )
                )
        handles += [
            Line2D([], [], marker=">", color="#c62828", linestyle="none", label=text["progression"]),
            Line2D([], [], marker="x", color="#000000", linestyle="none", label=text["death"]),
            Line2D(
                [],
                [],
                marker=r"$\rightarrow$",
                color="#333333",
                linestyle="none",
                markersize=10,
                label=text["ongoing"],
            ),
        ]
        axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
        if title:
            axes.set_title(title)
        figure.tight_layout()
        return _svg(figure)


def spider_figure(
    series: Sequence[SpiderSeries],
    *,
    title: str = "",
    labels: Mapping[str, str] | None = None,
    url_template: str | None = None,
) -> str:
    """Return a spider plot (SVG): % change of the target sum from baseline over time per patient."""
    text = _labels(labels)
    drawn = [item for item in series if item.points]
    if not drawn:
        return _no_data(text, title)
    with _style():
        figure = _figure(7.0, 4.4)
        axes = figure.add_subplot()
        for item in drawn:
            # Every line starts at baseline: time 0, change 0 %.
            points = sorted(((0.0, 0.0), *((float(t), float(v)) for t, v in item.points)))
            (line,) = axes.plot(
                [t for t, _ in points],
                [v for _, v in points],
                color=BOR_COLOURS.get(item.bor, BOR_COLOURS[None]),
                marker="o",
                markersize=3,
                lw=1.2,
            )
            line.set_gid(_patient_gid(item.patient_id))
            _link(line, item.patient_id, url_template)
        axes.axhline(-30, color="#444444", linestyle="--", lw=0.8)  # R1.13
        axes.axhline(20, color="#444444", linestyle=":", lw=0.8)  # R1.14
        axes.axhline(0, color="#000000", lw=0.6)
        axes.set_xlabel(text["months"])
        axes.set_ylabel(text["change"])
        _bor_legend(axes, [item.bor for item in drawn], text, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        if title:
            axes.set_title(title)
        figure.tight_layout()
        return _svg(figure)
