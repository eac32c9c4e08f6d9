"""Endpoint figures as SVG strings: Kaplan-Meier, cumulative incidence, waterfall, swimmer, spider.

Pure module (standard library only, no Django): every figure is written as hand-built SVG elements. Drawing
the figures of a 5,000-patient study takes milliseconds, so the endpoint recompute is not held up by them.

- Output is deterministic for the same input (no dates, no random ids), so snapshots can be fingerprinted.
- Every text shown is an escaped SVG ``<text>`` and goes through a ``labels`` mapping (English defaults here; the
  Django layer may pass translated labels).
- Each patient's element carries the SVG id ``patient-<id>`` so the dashboard can link it to the casebook; pass
  ``url_template`` (e.g. ``"/patients/{patient_id}/"``) to wrap it in a link as well.
- Every figure has a ``viewBox`` plus ``width``/``height`` (it scales in the dashboard and keeps its size in the
  PDF report, which WeasyPrint renders) and a ``<title>`` for assistive technology.
- A step curve is one ``<path>`` (points dropped only where the curve does not move, which loses nothing); its CI
  band is one ``<path>`` polygon, split into sub-paths where the band is not estimable.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

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


def gettext_noop(text: str) -> str:
    """Mark a label for translation (Django's ``makemessages`` extracts ``gettext_noop`` calls by name); identity.

    The module stays free of Django: ``endpoints.services.plot_labels`` translates these in the active language.
    """
    return text


DEFAULT_LABELS: dict[str, str] = {
    "no_data": gettext_noop("No data"),
    "months": gettext_noop("Months"),
    "survival": gettext_noop("Probability"),
    "number_at_risk": gettext_noop("Number at risk"),
    "cumulative_incidence": gettext_noop("Cumulative incidence of local failure"),
    "aalen-johansen": gettext_noop("Cumulative incidence (death as competing risk)"),
    "1-km": gettext_noop("1 - Kaplan-Meier (deaths censored)"),
    "censored": gettext_noop("Censored"),
    "ci_band": gettext_noop("95% CI"),
    "best_change": gettext_noop("Best change from baseline in sum of diameters (%)"),
    "change": gettext_noop("Change from baseline in sum of diameters (%)"),
    "patients": gettext_noop("Patients"),
    "time_on_study": gettext_noop("Time on study"),
    "sabr": "SABR",
    "axitinib": gettext_noop("Axitinib"),
    "toripalimab": gettext_noop("Toripalimab"),
    "progression": gettext_noop("Progression"),
    "death": gettext_noop("Death"),
    "ongoing": gettext_noop("Ongoing"),
    "CR": "CR",
    "PR": "PR",
    "SD": "SD",
    "NON-CR/NON-PD": gettext_noop("Non-CR/non-PD"),
    "PD": "PD",
    "NE": "NE",
    "NO ASSESSMENT": gettext_noop("No assessment"),
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
_DRUG_COLOURS = {"sabr": "#6a1b9a", "axitinib": "#1565c0", "toripalimab": "#00897b"}
_SERIES_COLOURS = ("#1f4e79", "#c0504d", "#4f8f3a", "#7f5f9f", "#e08a1e", "#3c8ea0")
_PROGRESSION_COLOUR = "#c62828"
_INK = "#222222"
_GREY = "#555555"
_FONT = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"
_FONT_SIZE = 11.0
_SMALL = 9.5
_TITLE_SIZE = 13.0
_CHAR_WIDTH = 0.6  # average advance of DejaVu Sans per font-size unit, to size margins and legends


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
# SVG writing
# ----------------------------------------------------------------------------------------------------


def _labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    merged = dict(DEFAULT_LABELS)
    if labels:
        merged.update(labels)
    return merged


def _f(value: float) -> str:
    """Format a coordinate: 0.1 px is finer than any screen or print shows."""
    text = f"{value:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _width(text: str, size: float = _FONT_SIZE) -> float:
    """Estimated width of ``text``: a wide (CJK) character takes a full em, others ``_CHAR_WIDTH`` of one."""
    wide = sum(1 for ch in text if unicodedata.east_asian_width(ch) in "WF")
    return ((len(text) - wide) * _CHAR_WIDTH + wide) * size


def _text(
    x: float,
    y: float,
    content: str,
    *,
    anchor: str = "start",
    size: float | None = None,
    fill: str | None = None,
    bold: bool = False,
    rotate: bool = False,
) -> str:
    """Return one ``<text>`` centred vertically on ``y`` by a baseline shift (WeasyPrint ignores dominant-baseline)."""
    baseline = y + 0.35 * (size or _FONT_SIZE)
    attributes = []
    if rotate:  # reads bottom to top, centred on (x, y): the baseline shift turns with the text
        attributes.append(f'transform="rotate(-90 {_f(x)} {_f(y)})"')
    attributes.append(f'x="{_f(x)}" y="{_f(baseline)}"')
    if anchor != "start":
        attributes.append(f'text-anchor="{anchor}"')
    if size is not None:
        attributes.append(f'font-size="{_f(size)}"')
    if fill:
        attributes.append(f'fill="{fill}"')
    if bold:
        attributes.append('font-weight="bold"')
    return f"<text {' '.join(attributes)}>{_e(content)}</text>"


def _document(width: float, height: float, title: str, body: Iterable[str], *, interactive: bool) -> str:
    # role="img" would hide the patient links from assistive technology; figures with links keep the default role.
    role = "" if interactive else ' role="img"'
    return "".join(
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1"{role} width="{_f(width)}" '
            f'height="{_f(height)}" viewBox="0 0 {_f(width)} {_f(height)}" font-family="{_FONT}" '
            f'font-size="{_f(_FONT_SIZE)}" fill="{_INK}">',
            f"<title>{_e(title)}</title>",
            f'<rect width="{_f(width)}" height="{_f(height)}" fill="#ffffff"/>',
            *body,
            "</svg>\n",
        )
    )


def _heading(width: float, title: str) -> list[str]:
    return [_text(width / 2, 16, title, anchor="middle", size=_TITLE_SIZE, bold=True)] if title else []


def _no_data(text: Mapping[str, str], title: str, name: str) -> str:
    width, height = 600.0, 300.0
    body = [
        *_heading(width, title),
        _text(width / 2, height / 2, text["no_data"], anchor="middle", size=16, fill=_GREY),
    ]
    return _document(width, height, title or name, body, interactive=False)


def _linked(element: str, patient_id: int | str, url_template: str | None) -> str:
    if not url_template:
        return element
    return f'<a href="{_e(url_template.format(patient_id=patient_id))}">{element}</a>'


def _patient_id(patient_id: int | str, suffix: str = "") -> str:
    return _e(f"patient-{patient_id}{'-' + suffix if suffix else ''}")


@dataclass(frozen=True)
class _Frame:
    """The plot area in pixels and the data ranges it shows."""

    left: float
    top: float
    width: float
    height: float
    x_min: float
    x_max: float
    y_min: float
    y_max: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def x(self, value: float) -> float:
        span = self.x_max - self.x_min or 1.0
        return self.left + (value - self.x_min) / span * self.width

    def y(self, value: float) -> float:
        span = self.y_max - self.y_min or 1.0
        return self.bottom - (value - self.y_min) / span * self.height


def _tick_label(value: float) -> str:
    return f"{value:g}" if abs(value) >= 1e-9 else "0"


def _nice_ticks(low: float, high: float, target: int = 6) -> list[float]:
    """Return round tick values covering [low, high] (steps of 1, 2, 2.5 or 5 times a power of ten)."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(index * step, 10) for index in range(first, last + 1)]


def _month_ticks(high: float) -> list[float]:
    """Return month ticks from 0: every 1, 2, 3, 6, 12 or 24 months, at most 10 of them."""
    step = next((s for s in (1, 2, 3, 6, 12, 24, 48) if high / s <= 10), 60.0)
    return [float(step * index) for index in range(int(high // step + 1e-9) + 1)]


def _axes(
    frame: _Frame,
    *,
    x_ticks: Sequence[float],
    y_ticks: Sequence[float],
    x_title: str,
    y_title: str,
    y_format: Callable[[float], str] = _tick_label,
) -> list[str]:
    """Return the left and bottom axis lines, ticks, tick labels and axis titles."""
    left, bottom = frame.left, frame.bottom
    ticks = [f"M{_f(frame.x(t))},{_f(bottom)}v5" for t in x_ticks]
    ticks += [f"M{_f(left)},{_f(frame.y(t))}h-5" for t in y_ticks]
    out = [
        f'<path d="M{_f(left)},{_f(frame.top)}V{_f(bottom)}H{_f(frame.right)}" fill="none" stroke="{_INK}" '
        'stroke-width="1"/>',
        f'<path d="{"".join(ticks)}" fill="none" stroke="{_INK}" stroke-width="1"/>',
        '<g font-size="10">',
    ]
    out += [_text(frame.x(t), bottom + 15, _tick_label(t), anchor="middle") for t in x_ticks]
    out += [_text(left - 8, frame.y(t), y_format(t), anchor="end") for t in y_ticks]
    out.append("</g>")
    if x_title:
        out.append(_text(frame.left + frame.width / 2, bottom + 34, x_title, anchor="middle"))
    if y_title:
        y_label_width = max((_width(y_format(t), 10) for t in y_ticks), default=10)
        out.append(
            _text(
                left - 16 - y_label_width, frame.top + frame.height / 2, y_title, anchor="middle", rotate=True
            )
        )
    return out


def _reference_lines(frame: _Frame) -> list[str]:
    """Return the 0 % line and the RECIST thresholds: -30 % (R1.13, PR) and +20 % (R1.14, PD)."""
    out = []
    for value, dash, colour in ((-30.0, "6 3", "#444444"), (20.0, "2 3", "#444444"), (0.0, "", "#000000")):
        if frame.y_min <= value <= frame.y_max:
            y = _f(frame.y(value))
            dasharray = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(
                f'<path d="M{_f(frame.left)},{y}H{_f(frame.right)}" stroke="{colour}" '
                f'stroke-width="{"0.8" if dash else "0.6"}"{dasharray}/>'
            )
    return out


# Legend entries: (swatch kind, colour, label); kinds are drawn by ``_swatch``.
_LegendEntry = tuple[str, str, str]


def _legend(entries: Sequence[_LegendEntry], left: float, y: float) -> list[str]:
    """Return a legend box with one row per entry, its top left corner at (``left``, ``y``)."""
    if not entries:
        return []
    row = 16.0
    width = 34 + max(_width(label, 10) for _, _, label in entries)
    height = row * len(entries) + 6
    out = [
        f'<g font-size="10"><rect x="{_f(left)}" y="{_f(y)}" width="{_f(width)}" height="{_f(height)}" '
        'fill="#ffffff" fill-opacity="0.85" stroke="#dddddd" stroke-width="0.6"/>'
    ]
    for index, (kind, colour, label) in enumerate(entries):
        centre_y = y + 3 + row * index + row / 2
        out.append(_swatch(kind, colour, left + 15, centre_y))
        out.append(_text(left + 28, centre_y, label))
    out.append("</g>")
    return out


def _swatch(kind: str, colour: str, x: float, y: float) -> str:
    if kind == "line":
        return f'<path d="M{_f(x - 9)},{_f(y)}h18" stroke="{colour}" stroke-width="2"/>'
    if kind == "dashed":
        return (
            f'<path d="M{_f(x - 9)},{_f(y)}h18" stroke="{colour}" stroke-width="2" stroke-dasharray="5 3"/>'
        )
    if kind == "band":
        return f'<rect x="{_f(x - 9)}" y="{_f(y - 5)}" width="18" height="10" fill="{colour}" fill-opacity="0.18"/>'
    if kind == "box":
        return f'<rect x="{_f(x - 6)}" y="{_f(y - 5)}" width="12" height="10" fill="{colour}"/>'
    if kind == "bar":
        return f'<rect x="{_f(x - 9)}" y="{_f(y - 3)}" width="18" height="6" fill="{colour}"/>'
    if kind == "censor":
        return f'<path d="M{_f(x)},{_f(y - 5)}v10" stroke="{colour}" stroke-width="1.4"/>'
    if kind == "progression":
        return f'<path d="M{_f(x)},{_f(y - 8)}v16" stroke="{colour}" stroke-width="3"/>'
    if kind == "arrow":
        return _arrow(x - 9, x + 9, y, colour)
    return _marker(kind, x, y, colour)


def _marker_path(kind: str, x: float, y: float, r: float = 4.5) -> str:
    """Return path data of one marker centred on (x, y)."""
    if kind == "circle":
        return (
            f"M{_f(x - r)},{_f(y)}a{_f(r)},{_f(r)} 0 1,0 {_f(2 * r)},0a{_f(r)},{_f(r)} 0 1,0 {_f(-2 * r)},0Z"
        )
    if kind == "dot":
        s = r / 2
        return (
            f"M{_f(x - s)},{_f(y)}a{_f(s)},{_f(s)} 0 1,0 {_f(2 * s)},0a{_f(s)},{_f(s)} 0 1,0 {_f(-2 * s)},0Z"
        )
    if kind == "square":
        s = r * 0.85
        return f"M{_f(x - s)},{_f(y - s)}h{_f(2 * s)}v{_f(2 * s)}h{_f(-2 * s)}Z"
    if kind == "diamond":
        return f"M{_f(x)},{_f(y - r)}l{_f(r)},{_f(r)}l{_f(-r)},{_f(r)}l{_f(-r)},{_f(-r)}Z"
    if kind == "star":
        points = []
        for index in range(10):
            radius = r * 1.25 if index % 2 == 0 else r * 0.5
            angle = math.pi / 2 + index * math.pi / 5
            points.append(f"{_f(x + radius * math.cos(angle))},{_f(y - radius * math.sin(angle))}")
        return "M" + "L".join(points) + "Z"
    if kind in ("cross", "death"):
        return f"M{_f(x - r)},{_f(y - r)}l{_f(2 * r)},{_f(2 * r)}M{_f(x - r)},{_f(y + r)}l{_f(2 * r)},{_f(-2 * r)}"
    if kind == "triangle-down":
        return f"M{_f(x - r)},{_f(y - r)}h{_f(2 * r)}l{_f(-r)},{_f(2 * r)}Z"
    raise ValueError(kind)


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    return _markers(kind, [(x, y)], colour)


def _markers(kind: str, centres: Sequence[tuple[float, float]], colour: str) -> str:
    """Return one ``<path>`` holding every marker of one kind and colour."""
    d = "".join(_marker_path(kind, x, y) for x, y in centres)
    if kind in ("cross", "death"):
        width = "2.2" if kind == "death" else "1.8"
        return f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{width}"/>'
    return f'<path d="{d}" fill="{colour}" stroke="#333333" stroke-width="0.4"/>'


def _arrow(x0: float, x1: float, y: float, colour: str) -> str:
    head = min(6.0, max(x1 - x0, 3.0))
    return (
        f'<path d="M{_f(x0)},{_f(y)}H{_f(x1 - head + 1)}" stroke="{colour}" stroke-width="1.4"/>'
        f'<path d="M{_f(x1)},{_f(y)}l{_f(-head)},-3.5v7Z" fill="{colour}"/>'
    )


# ----------------------------------------------------------------------------------------------------
# Survival figures
# ----------------------------------------------------------------------------------------------------


def _tenths(frame: _Frame, xs: Sequence[float], ys: Sequence[float]) -> tuple[list[int], list[int]]:
    """Return pixel coordinates in tenths of a pixel (integers: cheap to compare and to write)."""
    x_scale = frame.width / (frame.x_max - frame.x_min or 1.0) * 10
    x_shift = frame.left * 10 - frame.x_min * x_scale + 0.5
    y_scale = -frame.height / (frame.y_max - frame.y_min or 1.0) * 10
    y_shift = frame.bottom * 10 - frame.y_min * y_scale + 0.5
    return [math.floor(x_scale * v + x_shift) for v in xs], [math.floor(y_scale * v + y_shift) for v in ys]


def _t(tenths: int) -> str:
    """Write a coordinate given in tenths of a pixel."""
    if tenths < 0:
        return "-" + _t(-tenths)
    whole, fraction = divmod(tenths, 10)
    return f"{whole}.{fraction}" if fraction else str(whole)


def _steps(xs: Sequence[int], ys: Sequence[int], parts: list[str]) -> None:
    """Append the steps after the first point: across to the next x, then up or down to its y.

    A point whose y equals the previous one on the drawing grid is dropped: the curve does not move there, so the
    drawn path is the same (loss-free thinning).
    """
    previous = ys[0]
    for x, y in zip(xs[1:], ys[1:], strict=True):
        if y != previous:
            parts.append(f"H{_t(x)}V{_t(y)}")
            previous = y


def _step_path(frame: _Frame, times: Sequence[float], values: Sequence[float]) -> str:
    """Return path data of a right-continuous step function."""
    xs, ys = _tenths(frame, times, values)
    parts = [f"M{_t(xs[0])},{_t(ys[0])}"]
    _steps(xs, ys, parts)
    parts.append(f"H{_t(xs[-1])}")
    return "".join(parts)


def _band_path(frame: _Frame, curve: StepCurve) -> str:
    """Return the CI band as closed sub-paths (upper edge forwards, lower edge back) over estimable runs."""
    count = len(curve.times)
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for index, (low, high) in enumerate(zip(curve.lower, curve.upper, strict=True)):
        defined = low is not None and high is not None
        if defined and start is None:
            start = index
        elif not defined and start is not None:
            runs.append((start, index - 1))
            start = None
    if start is not None:
        runs.append((start, count - 1))
    parts: list[str] = []
    for first, last in runs:
        stop = min(last + 1, count - 1)
        times = curve.times[first : last + 1]
        xs, upper = _tenths(frame, times, [value or 0.0 for value in curve.upper[first : last + 1]])
        _, lower = _tenths(frame, times, [value or 0.0 for value in curve.lower[first : last + 1]])
        end_x = _tenths(frame, [curve.times[stop]], [0.0])[0][0]
        parts.append(f"M{_t(xs[0])},{_t(upper[0])}")
        _steps(xs, upper, parts)
        parts.append(f"H{_t(end_x)}V{_t(lower[-1])}")
        # The lower edge walked backwards: at each step left, the value that held before that x.
        previous = lower[-1]
        for position in range(len(xs) - 1, 0, -1):
            if lower[position - 1] != previous:
                previous = lower[position - 1]
                parts.append(f"H{_t(xs[position])}V{_t(previous)}")
        parts.append(f"H{_t(xs[0])}Z")
    return "".join(parts)


def _censor_path(frame: _Frame, curve: StepCurve) -> str:
    """Return every censor mark as one path; marks at the same point are drawn once."""
    marks = sorted(set(zip(curve.censor_times, curve.censor_estimate, strict=True)))
    xs, ys = _tenths(frame, [t for t, _ in marks], [v for _, v in marks])
    return "".join(f"M{_t(x)},{_t(y - 40)}v8" for x, y in dict.fromkeys(zip(xs, ys, strict=True)))


def _curve(
    frame: _Frame, curve: StepCurve, colour: str, *, dashed: bool = False, band: bool = False
) -> list[str]:
    if not curve.times:
        return []
    out = []
    if band:
        d = _band_path(frame, curve)
        if d:
            out.append(f'<path class="ci-band" d="{d}" fill="{colour}" fill-opacity="0.15" stroke="none"/>')
    dasharray = ' stroke-dasharray="6 3"' if dashed else ""
    out.append(
        f'<path class="curve" d="{_step_path(frame, curve.times, curve.estimate)}" fill="none" stroke="{colour}" '
        f'stroke-width="1.6" stroke-linejoin="miter"{dasharray}/>'
    )
    if curve.censor_times:
        out.append(
            f'<path class="censor-marks" d="{_censor_path(frame, curve)}" fill="none" stroke="{colour}" '
            'stroke-width="1.1"/>'
        )
    return out


@dataclass(frozen=True)
class _Series:
    curve: StepCurve
    colour: str
    legend: str
    dashed: bool
    band: bool


def _legend_rows(
    entries: Sequence[_LegendEntry], left: float, top: float, width: float
) -> tuple[list[str], float]:
    """Return legend entries laid out left to right, wrapping within ``width``, and the height they take."""
    out = ['<g font-size="10">']
    x, y, row = left, top + 8, 16.0
    for kind, colour, label in entries:
        entry_width = 34 + _width(label, 10)
        if x > left and x + entry_width > left + width:
            x, y = left, y + row
        out.append(_swatch(kind, colour, x + 9, y))
        out.append(_text(x + 22, y, label))
        x += entry_width + 8
    out.append("</g>")
    return out, y - top + 8


def _survival_figure(
    series: Sequence[_Series],
    at_risk_rows: Sequence[tuple[str, str, Sequence[tuple[float, int]]]],
    ticks: Sequence[float],
    *,
    title: str,
    accessible_title: str,
    y_title: str,
    text: Mapping[str, str],
) -> str:
    """Return a step-curve figure on [0, 1]; under the x axis the legend (never over a curve) and the number at
    risk at each x tick."""
    row_label_width = max((_width(label, 10) for label, _, _ in at_risk_rows), default=0.0)
    # The count under x = 0 is centred on the y axis: the row labels end left of it.
    overhang = max(
        (_width(str(n), 10) / 2 for _, _, counts in at_risk_rows for t, n in counts if t == 0), default=0
    )
    left = max(64.0, row_label_width + overhang + 20)
    top = 30.0 if title else 14.0
    width = 640.0
    longest = max((s.curve.times[-1] for s in series if s.curve.times), default=1.0)
    x_max = max([longest, *ticks]) or 1.0
    frame = _Frame(left, top, width - left - 24, 250.0, 0.0, x_max, 0.0, 1.02)
    body = _heading(width, title)
    body += _axes(
        frame,
        x_ticks=[t for t in ticks if t <= x_max] or _nice_ticks(0.0, x_max),
        y_ticks=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
        x_title=text["months"],
        y_title=y_title,
        y_format=lambda value: f"{value:.1f}",
    )
    for item in series:
        body += _curve(frame, item.curve, item.colour, dashed=item.dashed, band=item.band)
    entries: list[_LegendEntry] = [("dashed" if s.dashed else "line", s.colour, s.legend) for s in series]
    if any(s.band for s in series):
        entries.append(("band", series[0].colour, text["ci_band"]))
    if any(s.curve.censor_times for s in series):
        entries.append(("censor", _INK, text["censored"]))
    legend, legend_height = _legend_rows(entries, 12, frame.bottom + 44, width - 24)
    body += legend
    # Number at risk: one row per series, each count under its x tick.
    table_top = frame.bottom + 44 + legend_height + 12
    body.append(_text(12, table_top, text["number_at_risk"], size=10, bold=True))
    body.append('<g font-size="10">')
    for index, (label, colour, counts) in enumerate(at_risk_rows):
        y = table_top + 18 + 16 * index
        body.append(_text(frame.left - overhang - 8, y, label, anchor="end", fill=colour, bold=True))
        body += [
            _text(frame.x(time), y, str(count), anchor="middle")
            for time, count in counts
            if 0.0 <= time <= x_max
        ]
    body.append("</g>")
    height = table_top + 18 + 16 * len(at_risk_rows)
    return _document(width, height, accessible_title, body, interactive=False)


def kaplan_meier_figure(
    results: Sequence[KaplanMeierResult],
    *,
    title: str = "",
    labels: Mapping[str, str] | None = None,
    show_band: bool = True,
) -> str:
    """Return a Kaplan-Meier figure (SVG): step curves, censor marks, CI band and number at risk (months)."""
    text = _labels(labels)
    drawn = [result for result in results if result.n > 0]
    if not drawn:
        return _no_data(text, title, text["survival"])
    series = []
    rows = []
    for index, result in enumerate(drawn):
        colour = _SERIES_COLOURS[index % len(_SERIES_COLOURS)]
        name = result.label or text["survival"]
        series.append(_Series(result.curve, colour, f"{name} (n={result.n})", False, show_band))
        rows.append((name, colour, [(item.time, item.n_at_risk) for item in result.at_risk]))
    ticks = sorted({item.time for result in drawn for item in result.at_risk})
    return _survival_figure(
        series,
        rows,
        ticks,
        title=title,
        accessible_title=title or text["survival"],
        y_title=text["survival"],
        text=text,
    )


def cumulative_incidence_figure(
    results: Sequence[CumulativeIncidenceResult],
    *,
    title: str = "",
    labels: Mapping[str, str] | None = None,
    show_band: bool = True,
) -> str:
    """Return a cumulative-incidence figure (SVG): Aalen-Johansen solid with band, 1-KM dashed (R2.4)."""
    text = _labels(labels)
    drawn = [result for result in results if result.n > 0]
    if not drawn:
        return _no_data(text, title, text["cumulative_incidence"])
    colours: dict[str, str] = {}
    rows: dict[str, tuple[str, str, list[tuple[float, int]]]] = {}
    series = []
    for result in drawn:
        colour = colours.setdefault(result.label, _SERIES_COLOURS[len(colours) % len(_SERIES_COLOURS)])
        competing = result.method == "aalen-johansen"
        method = text.get(result.method, result.method)
        name = f"{result.label}: {method}" if result.label else method
        series.append(
            _Series(result.curve, colour, f"{name} (n={result.n})", not competing, show_band and competing)
        )
        rows.setdefault(
            result.label,
            (
                result.label or text["patients"],
                colour,
                [(item.time, item.n_at_risk) for item in result.at_risk],
            ),
        )
    ticks = sorted({item.time for result in drawn for item in result.at_risk})
    return _survival_figure(
        series,
        list(rows.values()),
        ticks,
        title=title,
        accessible_title=title or text["cumulative_incidence"],
        y_title=text["cumulative_incidence"],
        text=text,
    )


# ----------------------------------------------------------------------------------------------------
# Patient-level figures
# ----------------------------------------------------------------------------------------------------


def _bor_name(bor: str | None, text: Mapping[str, str]) -> str:
    return text.get(bor or "NO ASSESSMENT", str(bor or ""))


def _bor_entries(present: Iterable[str | None], text: Mapping[str, str]) -> list[_LegendEntry]:
    seen = set(present)
    return [("box", colour, _bor_name(key, text)) for key, colour in BOR_COLOURS.items() if key in seen]


def _colour(bor: str | None) -> str:
    return BOR_COLOURS.get(bor, BOR_COLOURS[None])


def _percent(value: float) -> str:
    return f"{value:+.1f}%"


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
        return _no_data(text, title, text["best_change"])
    # Largest increase on the left, deepest shrinkage on the right; ties in a stable patient order.
    ordered = sorted(bars, key=lambda bar: (-float(bar.best_pct_change), str(bar.patient_id)))
    values = [float(bar.best_pct_change) for bar in ordered]
    count = len(ordered)
    plot_width = max(360.0, min(22.0, max(3.0, 900.0 / count)) * count)
    pitch = plot_width / count
    bar_width = min(max(pitch * 0.8, 1.0), 28.0)
    label_every = math.ceil(11.0 / pitch)  # patient labels 11 px apart at least; every bar has a tooltip
    longest_label = max(_width(bar.label, 9) for bar in ordered[::label_every])
    entries = _bor_entries((bar.bor for bar in ordered), text)
    legend_width = 34 + max(_width(label, 10) for _, _, label in entries)
    top = 30.0 if title else 14.0
    left = 86.0
    plot_height = 300.0
    width = left + plot_width + 16 + legend_width + 10
    height = top + plot_height + longest_label + 40
    low = min(-35.0, *values) - 5
    high = max(25.0, *values) + 5
    frame = _Frame(left, top, plot_width, plot_height, 0.0, float(count), low, high)
    y_ticks = _nice_ticks(low, high)
    body = _heading(width, title)
    body += _reference_lines(frame)
    zero = frame.y(0.0)
    for position, (bar, value) in enumerate(zip(ordered, values, strict=True)):
        x = _f(frame.x(position + 0.5) - bar_width / 2)
        y = frame.y(value)
        name = _bor_name(bar.bor, text)
        # A bar of about 0 % is still drawn, 1 px high on the zero line, so every patient is visible.
        y_top, bar_height = (min(y, zero), abs(zero - y)) if abs(zero - y) >= 1 else (zero - 0.5, 1.0)
        rect = (
            f'<rect id="{_patient_id(bar.patient_id)}" x="{x}" y="{_f(y_top)}" width="{_f(bar_width)}" '
            f'height="{_f(bar_height)}" fill="{_colour(bar.bor)}">'
            f"<title>{_e(bar.label)}: {_percent(value)} ({_e(name)})</title></rect>"
        )
        body.append(_linked(rect, bar.patient_id, url_template))
    body += _axes(frame, x_ticks=[], y_ticks=y_ticks, x_title="", y_title=text["best_change"])
    tick_marks = "".join(
        f"M{_f(frame.x(position + 0.5))},{_f(frame.bottom)}v4" for position in range(0, count, label_every)
    )
    body.append(f'<path d="{tick_marks}" stroke="{_INK}" stroke-width="1"/>')
    # Patient labels read bottom to top and end at their tick.
    body += [
        _text(
            frame.x(position + 0.5),
            frame.bottom + 7,
            ordered[position].label,
            anchor="end",
            size=9,
            rotate=True,
        )
        for position in range(0, count, label_every)
    ]
    body.append(_text(frame.left + frame.width / 2, height - 12, text["patients"], anchor="middle"))
    body += _legend(entries, frame.right + 16, top)
    return _document(width, height, title or text["best_change"], body, interactive=bool(url_template))


_RESPONSE_MARKERS: dict[str, str] = {
    "CR": "star",
    "PR": "circle",
    "SD": "square",
    "NON-CR/NON-PD": "diamond",
    "PD": "cross",
    "NE": "dot",
}


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
        return _no_data(text, title, text["time_on_study"])
    longest = max(lane.follow_up for lane in lanes) or 1.0
    responses_seen = {response for lane in lanes for _, response in lane.responses}
    entries: list[_LegendEntry] = [
        ("bar", _DRUG_COLOURS[key], text[key]) for key in ("sabr", "axitinib", "toripalimab")
    ]
    entries += [
        (_RESPONSE_MARKERS[response], _colour(response), text.get(response, response))
        for response in _RESPONSE_MARKERS
        if response in responses_seen
    ]
    entries += [
        ("progression", _PROGRESSION_COLOUR, text["progression"]),
        ("death", "#000000", text["death"]),
        ("arrow", "#333333", text["ongoing"]),
    ]
    legend_width = 34 + max(_width(label, 10) for _, _, label in entries)
    lane_height = 18.0
    top = 30.0 if title else 14.0
    left = max(60.0, max(_width(lane.label, 10) for lane in lanes) + 18)
    plot_width = 700.0
    width = left + plot_width + 16 + legend_width + 10
    plot_height = lane_height * len(lanes)
    height = max(top + plot_height + 46, top + 16.0 * len(entries) + 12)
    x_max = longest * 1.08
    frame = _Frame(left, top, plot_width, plot_height, 0.0, x_max, 0.0, float(len(lanes)))
    body = _heading(width, title)
    body += _axes(
        frame,
        x_ticks=[t for t in _month_ticks(x_max) if t <= x_max],
        y_ticks=[],
        x_title=f"{text['time_on_study']} ({text['months'].lower()})",
        y_title="",
    )
    body.append('<g font-size="10">')
    body += [
        _text(left - 8, top + lane_height * (i + 0.5), lane.label, anchor="end")
        for i, lane in enumerate(lanes)
    ]
    body.append("</g>")
    for index, lane in enumerate(lanes):  # first lane at the top, in the input order
        y = top + lane_height * (index + 0.5)
        x0 = frame.x(0.0)
        parts = [
            f'<g id="{_patient_id(lane.patient_id)}"><title>{_e(lane.label)}</title>',
            f'<rect x="{_f(x0)}" y="{_f(y - 7)}" width="{_f(frame.x(lane.follow_up) - x0)}" height="14" '
            'fill="#eeeeee" stroke="#bbbbbb" stroke-width="0.5"/>',
        ]
        for key, periods, offset, thickness in (
            ("axitinib", lane.axitinib, -3.5, 4.0),
            ("toripalimab", lane.toripalimab, 3.5, 4.0),
            ("sabr", lane.sabr, 0.0, 3.0),
        ):
            for number, period in enumerate(periods, start=1):
                end = period.end if period.end is not None else lane.follow_up
                start_x = frame.x(period.start)
                parts.append(
                    f'<rect id="{_patient_id(lane.patient_id, f"{key}-{number}")}" x="{_f(start_x)}" '
                    f'y="{_f(y + offset - thickness / 2)}" width="{_f(max(frame.x(end) - start_x, 0.0))}" '
                    f'height="{_f(thickness)}" fill="{_DRUG_COLOURS[key]}"/>'
                )
        if lane.sabr:
            parts.append(
                _markers("triangle-down", [(frame.x(p.start), y) for p in lane.sabr], _DRUG_COLOURS["sabr"])
            )
        if lane.progression is not None:  # a bar across the lane, under the time-point markers
            parts.append(_swatch("progression", _PROGRESSION_COLOUR, frame.x(lane.progression), y))
        by_response: dict[str, list[tuple[float, float]]] = {}
        for time, response in lane.responses:
            by_response.setdefault(response, []).append((frame.x(time), y))
        for response, centres in by_response.items():
            parts.append(_markers(_RESPONSE_MARKERS.get(response, "dot"), centres, _colour(response)))
        if lane.death is not None:
            parts.append(_markers("death", [(frame.x(lane.death), y)], "#000000"))
        if lane.ongoing:
            parts.append(
                _arrow(
                    frame.x(lane.follow_up) + 1, frame.x(lane.follow_up + 0.04 * longest) + 1, y, "#333333"
                )
            )
        parts.append("</g>")
        body.append(_linked("".join(parts), lane.patient_id, url_template))
    body += _legend(entries, frame.right + 16, top)
    return _document(width, height, title or text["time_on_study"], body, interactive=bool(url_template))


_DOT = "a2.2,2.2 0 1,0 4.4,0a2.2,2.2 0 1,0 -4.4,0Z"  # a circle of radius 2.2 from its leftmost point


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
        return _no_data(text, title, text["change"])
    # Every line starts at baseline: time 0, change 0 %.
    lines = [(item, sorted({(0.0, 0.0), *((float(t), float(v)) for t, v in item.points)})) for item in drawn]
    longest = max(t for _, points in lines for t, _ in points) or 1.0
    low = min(-35.0, *(v for _, points in lines for _, v in points)) - 5
    high = max(25.0, *(v for _, points in lines for _, v in points)) + 5
    entries = _bor_entries((item.bor for item in drawn), text)
    legend_width = 34 + max(_width(label, 10) for _, _, label in entries)
    top = 30.0 if title else 14.0
    left = 86.0
    plot_width = 520.0
    width = left + plot_width + 16 + legend_width + 10
    height = top + 300 + 46
    frame = _Frame(left, top, plot_width, 300.0, 0.0, longest, low, high)
    body = _heading(width, title)
    body += _reference_lines(frame)
    body += _axes(
        frame,
        x_ticks=[t for t in _month_ticks(longest) if t <= longest],
        y_ticks=_nice_ticks(low, high),
        x_title=text["months"],
        y_title=text["change"],
    )
    for item, points in lines:
        colour = _colour(item.bor)
        xs, ys = _tenths(frame, [t for t, _ in points], [v for _, v in points])
        line = "M" + "L".join(f"{_t(x)},{_t(y)}" for x, y in zip(xs, ys, strict=True))
        dots = "".join(f"M{_t(x - 22)},{_t(y)}{_DOT}" for x, y in zip(xs, ys, strict=True))
        element = (
            f'<g id="{_patient_id(item.patient_id)}"><title>{_e(item.label)} ({_e(_bor_name(item.bor, text))})'
            f'</title><path d="{line}" fill="none" stroke="{colour}" stroke-width="1.2" stroke-linejoin="round"/>'
            f'<path d="{dots}" fill="{colour}"/></g>'
        )
        body.append(_linked(element, item.patient_id, url_template))
    body += _legend(entries, frame.right + 16, top)
    return _document(width, height, title or text["change"], body, interactive=bool(url_template))
