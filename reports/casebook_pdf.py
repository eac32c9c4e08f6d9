"""The patient casebook PDF: every CRF of one patient with its values, state, signatures and change history,
and the casebook's own signatures (with their voiding) and lock history (issue 19 item 5).

Built from the CRF registry, so a new CRF appears without a change here; child rows of a CRF (eligibility
answers, lesion results...) are listed under it. History rows come from ``sabr_trial.selectors.history_rows``,
the read the casebook pages use, given the records of the whole patient read once per CRF.

Tables are fixed-width text blocks (``reports.report``'s listing helpers, DejaVu Sans Mono on a portrait
page): WeasyPrint lays out one box per record instead of one per value, which took 13 s for the largest demo
patient; long values wrap inside their column. Every read is one query per CRF (rows, children, history) or
one per patient (signatures, audit events), whatever the number of forms.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Prefetch, Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from reports.report import (
    GAP,
    Col,
    Stage,
    _pad,
    columns,
    css_string,
    html_to_pdf,
    is_cjk,
    text_listing,
    text_row,
    text_span,
)
from sabr_trial import services
from sabr_trial.crf import CrfBase, CrfSpec, registry
from sabr_trial.models import AuditEvent, CasebookSignature, Signature, StudyLock
from sabr_trial.selectors import history_rows
from sabr_trial.sitetime import stamp
from sabr_trial.templatetags.ruletext import change_reason
from sabr_trial.templatetags.ruletext import text as ruletext_text

Progress = Callable[[str, int], None]

TEMPLATE = "reports/report/casebook.html"

#: Characters per line of a text block: 7 pt DejaVu Sans Mono (0.602 em) across portrait A4 less the margins
#: and the cell padding (casebook.html). Noto Sans Mono CJK draws Latin narrower, so a Chinese block fits too.
WIDTH = 116
#: Width of a timestamp column: "2026-12-06 09:30:00+08:00".
WHEN = 25
#: Lifecycle events a form's "Audit events" lists; creation and changes are in its change history already.
FORM_EVENTS_SHOWN_IN_HISTORY = (AuditEvent.Action.CREATE, AuditEvent.Action.UPDATE)
#: Casebook-level events not listed under "Other casebook events": signatures have their own table, and the
#: builds and downloads of files (this casebook among them) say who printed what, not what the casebook holds.
CASEBOOK_EVENTS_SHOWN_ELSEWHERE = (
    AuditEvent.Action.CASEBOOK_SIGN,
    AuditEvent.Action.CASEBOOK_VOID,
    AuditEvent.Action.EXPORT,
    AuditEvent.Action.DOWNLOAD,
)
LOCK_ACTIONS = {
    AuditEvent.Action.PATIENT_LOCK: lambda e: _("Casebook locked"),
    AuditEvent.Action.PATIENT_UNLOCK: lambda e: _("Casebook unlocked"),
    AuditEvent.Action.STUDY_LOCK: lambda e: _("Study database locked"),
    AuditEvent.Action.STUDY_UNLOCK: lambda e: _("Study database unlocked"),
    AuditEvent.Action.LOCK: lambda e: _("Form locked: %(form)s") % {"form": e.description},
    AuditEvent.Action.UNLOCK: lambda e: _("Form unlocked: %(form)s") % {"form": e.description},
}


def _noop(stage: str, pct: int) -> None:
    return None


def _user(u: Any) -> str:
    if u is None:
        return "—"
    return u.get_full_name() or u.get_username()


def _login(u: Any) -> str:
    return u.get_username() if u is not None else "—"


def _by(when: Any, who: Any) -> str:
    return _("%(when)s by %(who)s") % {"when": stamp(when), "who": _user(who)}


def _readable(text: str) -> str:
    """Let a coded list wrap at its separators ("INCL01=Y;INCL02=Y" has no space to break at)."""
    return text.replace(";", "; ").replace(",", ", ").replace("  ", " ")


def _value(instance: models.Model, f: models.Field[Any, Any]) -> str:
    return _readable(services._display(instance, f))


def _listing(cols: list[Col], blocks: list[list[str]], void: list[bool] | None = None) -> dict[str, Any]:
    """``text_listing`` at the casebook's width; ``rows`` pairs each block with whether it is struck (voided)."""
    listing = text_listing(cols, blocks, width=WIDTH)
    listing["rows"] = list(zip(listing["blocks"], void or [False] * len(blocks), strict=True))
    return listing


def _block(lines: list[str]) -> dict[str, Any]:
    text = "\n".join(lines)
    return {"text": text, "cjk": is_cjk(text)}


def key_values(pairs: Iterable[tuple[str, str]], label_width: int = 40) -> dict[str, Any]:
    """Label and value pairs as one text block of two columns, each wrapped within its column."""
    pairs = list(pairs)
    if not pairs:
        return _block([])
    width = min(label_width, max(columns(label) for label, _v in pairs))
    cols = [Col("", width), Col("", WIDTH - width - len(GAP))]
    lines: list[str] = []
    for label, value in pairs:
        lines += text_row(cols, [label, value])
    return _block(lines)


def fit(headers: list[str], rows: list[list[str]], width: int = WIDTH, minimum: int = 6) -> list[Col]:
    """Columns as wide as their longest value, the widest narrowed first until the table fits ``width``."""
    widths = [max([columns(header)] + [columns(r[i]) for r in rows]) for i, header in enumerate(headers)]
    floors = [max([minimum] + [columns(word) for word in header.split()]) for header in headers]
    room = width - len(GAP) * (len(headers) - 1)
    while sum(widths) > room:
        i = max(range(len(widths)), key=lambda k: widths[k] - floors[k])
        if widths[i] <= floors[i]:
            break
        widths[i] -= max(1, min(widths[i] - floors[i], sum(widths) - room))
    return [Col(h, w) for h, w in zip(headers, widths, strict=True)]


def table(headers: list[str], rows: list[list[str]]) -> dict[str, Any] | None:
    """A text table: a header and one block per row; a table too wide for the page becomes label: value blocks."""
    if not rows:
        return None
    cols = fit(headers, rows)
    if sum(c.width for c in cols) + len(GAP) * (len(cols) - 1) > WIDTH:
        wide = key_values(zip(headers, rows[0], strict=True))
        blocks = [key_values(zip(headers, r, strict=True))["text"] for r in rows]
        return {
            "header": "",
            "blocks": blocks,
            "rows": [(b, False) for b in blocks],
            "cjk": wide["cjk"] or any(is_cjk(b) for b in blocks),
        }
    return _listing(cols, [text_row(cols, r) for r in rows])


class Text:
    """One ``<pre>`` of fixed-width lines: headings, table headers and voided rows are spans inside it.

    A form is one such block under its heading: WeasyPrint lays out a block per form instead of one per table
    row or value (a block per table and row still took 4 s for the largest demo patient).
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.cjk = False
        self.lines = 0

    def _add(self, text: str, cls: str = "") -> None:
        self.cjk = self.cjk or is_cjk(text)
        self.lines += 1
        self.parts.append(format_html('<span class="{}">{}</span>', cls, text) if cls else escape(text))

    def heading(self, text: str) -> None:
        if self.parts:
            self._add("")
        self._add(text, "h")

    def muted(self, text: str) -> None:
        self._add(text, "muted")

    def block(self, block: dict[str, Any]) -> None:
        for line in block["text"].split("\n") if block["text"] else []:
            self._add(line)

    def table(self, listing: dict[str, Any], empty: str = "") -> None:
        """A text table: its header shaded, each row (one or more lines) ruled below, voided rows in red."""
        if not listing:
            if empty:
                self.muted(empty)
            return
        for line in listing["header"].split("\n") if listing["header"] else []:
            self._add(_pad(line, WIDTH, False), "th")
        for text, void in listing["rows"]:
            lines = text.split("\n")
            for i, line in enumerate(lines):
                last = i == len(lines) - 1
                cls = " ".join(c for c in ("void" if void else "", "sep" if last else "") if c)
                self._add(_pad(line, WIDTH, False) if last else line, cls)

    def html(self) -> str:
        return mark_safe("\n".join(self.parts))  # every part is escaped (escape or format_html) above


# --- Reads: one query per CRF model or per patient -------------------------------------------------------


def _child_relations(model: type[CrfBase]) -> list[tuple[str, Any, list[models.Field[Any, Any]]]]:
    """One-to-many rows that belong to this CRF and are not CRFs themselves (answers, lesion results)."""
    out = []
    for rel in model._meta.related_objects:
        child = rel.related_model
        if not rel.one_to_many or issubclass(child, CrfBase) or child.__name__.startswith("Historical"):
            continue
        if child._meta.app_label in ("sabr_trial", "contenttypes", "auth"):
            continue
        accessor = rel.get_accessor_name()
        if not accessor:
            continue
        fields = [
            f
            for f in child._meta.concrete_fields
            if not f.primary_key and f.name != rel.field.name and f.editable
        ]
        out.append((accessor, child, fields))
    return out


def _rows(spec: CrfSpec, patient: Any) -> list[CrfBase]:
    model = spec.model
    fks = []
    for f in services.data_fields(model):
        if f.is_relation and f.related_model is not None:
            fks.append(f.name)
            # The related row's own links, which its __str__ may name (a fraction's target names its lesion).
            fks += [
                f"{f.name}__{g.name}"
                for g in f.related_model._meta.concrete_fields
                if g.many_to_one and g.related_model is not get_user_model() and g.name != "patient"
            ]
    prefetch: list[Any] = [f.name for f in model._meta.many_to_many]
    for accessor, child, fields in _child_relations(model):
        related = [f.name for f in fields if f.is_relation]
        prefetch.append(Prefetch(accessor, queryset=child.objects.select_related(*related).order_by("pk")))
    return list(
        model.objects.filter(patient=patient)
        .select_related("created_by", "updated_by", "verified_by", "signed_by", "locked_by", *fks)
        .prefetch_related(*prefetch)
        .order_by("pk")
    )


def _history(spec: CrfSpec, patient: Any) -> dict[int, list[Any]]:
    records: dict[int, list[Any]] = defaultdict(list)
    qs = spec.model.history.filter(patient_id=patient.pk).select_related("history_user")  # type: ignore[attr-defined]
    for rec in qs.order_by("history_date", "history_id"):
        records[rec.id].append(rec)
    return records


# --- Sections -----------------------------------------------------------------------------------------------


def _children(row: CrfBase) -> list[dict[str, Any]]:
    out = []
    for accessor, child, fields in _child_relations(type(row)):
        items = list(getattr(row, accessor).all())
        if not items:
            continue
        headers = [str(f.verbose_name) for f in fields]
        # An eligibility answer names its criterion by id: the criterion's text makes the row readable.
        texts = hasattr(child, "criterion")
        if texts:
            headers.insert(1, _("Criterion text"))
        rows = []
        for item in items:
            values = [_value(item, f) for f in fields]
            if texts:
                values.insert(1, str(item.criterion.text))
            rows.append(values)
        out.append(
            {"title": str(child._meta.verbose_name_plural).capitalize(), "table": table(headers, rows)}
        )
    return out


def _m2m(row: CrfBase) -> list[tuple[str, str]]:
    return [
        (str(f.verbose_name), ", ".join(str(v) for v in getattr(row, f.name).all()) or "—")
        for f in type(row)._meta.many_to_many
    ]


def _signature_table(signatures: list[Any], *, casebook: bool = False) -> dict[str, Any] | None:
    """Each signature: when, who, the form version or the forms covered, its meaning, and its voiding."""
    if not signatures:
        return None
    cols = [
        Col(_("Signed at"), WHEN),
        Col(_("Signer"), 20),
        Col(_("Forms") if casebook else _("Form version"), 8, right=True),
    ]
    cols.append(Col(_("Meaning"), WIDTH - sum(c.width + len(GAP) for c in cols)))
    blocks, void = [], []
    for s in signatures:
        covered = len(s.forms) if casebook else s.crf_version
        lines = text_row(cols, [stamp(s.signed_at), s.signer_name, covered, s.meaning])
        if s.voided_at:
            lines += text_span(
                cols,
                1,
                _("VOIDED %(when)s by %(who)s: %(reason)s")
                % {"when": stamp(s.voided_at), "who": _user(s.voided_by), "reason": s.void_reason or "—"},
                WIDTH,
            )
        else:
            lines += text_span(cols, 1, _("Valid"), WIDTH)
        blocks.append(lines)
        void.append(bool(s.voided_at))
    return _listing(cols, blocks, void)


def _history_table(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not rows:
        return None
    cols = [Col(_("When"), WHEN), Col(_("User"), 14), Col(_("Version"), 7, right=True), Col(_("Status"), 16)]
    cols.append(Col(_("Reason"), WIDTH - sum(c.width + len(GAP) for c in cols)))
    blocks = []
    for h in rows:
        told = change_reason(h["reason"])
        reason = h["type"] if not told or told == h["type"] else f"{h['type']}: {told}"
        lines = text_row(cols, [stamp(h["when"]), _login(h["user"]), h["version"], h["status"], reason])
        for c in h["changes"]:
            lines += text_span(cols, 1, f"{c.label}: {_readable(c.old)} → {_readable(c.new)}", WIDTH)
        blocks.append(lines)
    return _listing(cols, blocks)


def _event_table(events: list[Any], describe: Callable[[Any], str] | None = None) -> dict[str, Any] | None:
    if not events:
        return None
    cols = [Col(_("When"), WHEN), Col(_("User"), 14), Col(_("Action"), 26)]
    cols.append(Col(_("Description"), WIDTH - sum(c.width + len(GAP) for c in cols)))
    blocks = []
    for e in events:
        action = describe(e) if describe else e.get_action_display()
        description, reason = (
            ruletext_text(e.description),
            change_reason(e.reason),
        )  # system texts are message ids
        text = description if not describe else (reason or "—")
        if reason and not describe:
            text = f"{text} ({reason})"
        blocks.append(text_row(cols, [stamp(e.at), _login(e.user), action, text]))
    return _listing(cols, blocks)


def _lock_table(events: list[Any]) -> dict[str, Any] | None:
    """Every lock and unlock of the casebook, its forms and the study: when, who, what, and the reason."""
    if not events:
        return None
    cols = [Col(_("When"), WHEN), Col(_("By"), 14), Col(_("Lock"), 34)]
    cols.append(Col(_("Reason"), WIDTH - sum(c.width + len(GAP) for c in cols)))
    blocks = [
        text_row(
            cols, [stamp(e.at), _login(e.user), LOCK_ACTIONS[e.action](e), ruletext_text(e.reason) or "—"]
        )
        for e in events
    ]
    return _listing(cols, blocks)


def _signature_state(row: CrfBase, signatures: list[Any]) -> str:
    valid = [s for s in signatures if not s.voided_at]
    if valid:
        return _("Signed on %(when)s by %(who)s (form version %(v)s)") % {
            "when": stamp(valid[-1].signed_at),
            "who": valid[-1].signer_name,
            "v": valid[-1].crf_version,
        }
    if signatures:
        last = signatures[-1]
        return _("Not signed: the signature of %(who)s of %(when)s was voided on %(voided)s") % {
            "who": last.signer_name,
            "when": stamp(last.signed_at),
            "voided": stamp(last.voided_at),
        }
    return _("Not signed")


def _lock_state(row: CrfBase, patient: Any, study_lock: StudyLock | None) -> str:
    if row.locked_at:
        return _("Form locked on %(when)s by %(who)s") % {
            "when": stamp(row.locked_at),
            "who": _user(row.locked_by),
        }
    if patient.locked_at:
        return _("Locked with the casebook on %(when)s by %(who)s") % {
            "when": stamp(patient.locked_at),
            "who": _user(patient.locked_by),
        }
    if study_lock is not None:
        return _("Locked with the study database on %(when)s by %(who)s") % {
            "when": stamp(study_lock.locked_at),
            "who": _user(study_lock.locked_by),
        }
    return _("Not locked")


def _state(row: CrfBase, patient: Any, signatures: list[Any], study_lock: StudyLock | None) -> dict[str, Any]:
    """The form's lifecycle in words: who created and last changed it, submission, SDV, signature, lock.

    Status and version are in the form's heading.
    """
    created, changed = _by(row.created_at, row.created_by), _by(row.updated_at, row.updated_by)
    return key_values(
        [
            (_("Created"), created),
            *([(_("Last change"), changed)] if changed != created else []),
            (_("Submitted"), stamp(row.submitted_at) if row.submitted_at else _("Not submitted (draft)")),
            (
                _("Source-data verification"),
                _("Verified on %(when)s by %(who)s")
                % {"when": stamp(row.verified_at), "who": _user(row.verified_by)}
                if row.verified_at
                else _("Not verified"),
            ),
            (_("Investigator signature"), _signature_state(row, signatures)),
            (_("Lock"), _lock_state(row, patient, study_lock)),
        ],
        label_width=26,
    )


def _casebook_state(
    patient: Any, signatures: list[Any], study_lock: StudyLock | None
) -> list[tuple[str, str]]:
    valid = [s for s in signatures if not s.voided_at]
    if valid:
        signed = _("Signed on %(when)s by %(who)s") % {
            "when": stamp(valid[-1].signed_at),
            "who": valid[-1].signer_name,
        }
    elif signatures:
        signed = _("Not signed: the last signature (%(who)s, %(when)s) was voided on %(voided)s") % {
            "who": signatures[-1].signer_name,
            "when": stamp(signatures[-1].signed_at),
            "voided": stamp(signatures[-1].voided_at),
        }
    else:
        signed = _("Not signed")
    locked = (
        _("Locked on %(when)s by %(who)s")
        % {"when": stamp(patient.locked_at), "who": _user(patient.locked_by)}
        if patient.locked_at
        else _("Not locked")
    )
    study = (
        _("Locked on %(when)s by %(who)s")
        % {"when": stamp(study_lock.locked_at), "who": _user(study_lock.locked_by)}
        if study_lock is not None
        else _("Not locked")
    )
    return [
        (_("Casebook signature"), signed),
        (_("Casebook lock"), locked),
        (_("Study database lock"), study),
    ]


def casebook_context(patient: Any, *, user: Any, progress: Progress = _noop) -> dict[str, Any]:
    specs = registry.all()
    cts = ContentType.objects.get_for_models(*(s.model for s in specs))
    study_lock = StudyLock.active()
    signatures: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for s in (
        Signature.objects.filter(patient=patient).select_related("voided_by").order_by("signed_at", "pk")
    ):
        signatures[(s.content_type_id, s.object_id)].append(s)
    events: dict[tuple[int, int], list[Any]] = defaultdict(list)
    casebook_events, lock_events = [], []
    for e in (
        AuditEvent.objects.filter(
            Q(patient=patient)
            | Q(
                patient__isnull=True,
                action__in=[AuditEvent.Action.STUDY_LOCK, AuditEvent.Action.STUDY_UNLOCK],
            )
        )
        .select_related("user")
        .order_by("at", "pk")
    ):
        if e.action in LOCK_ACTIONS:
            lock_events.append(e)
        if e.content_type_id is not None:
            if e.action not in FORM_EVENTS_SHOWN_IN_HISTORY:
                events[(e.content_type_id, e.object_id)].append(e)
        elif e.action not in LOCK_ACTIONS and e.action not in CASEBOOK_EVENTS_SHOWN_ELSEWHERE:
            casebook_events.append(e)
    casebook_signatures = list(
        CasebookSignature.objects.filter(patient=patient)
        .select_related("voided_by")
        .order_by("signed_at", "pk")
    )
    forms: list[dict[str, Any]] = []
    sections: list[dict[str, Any]] = []
    for i, spec in enumerate(specs):
        progress(_("Reading %(form)s") % {"form": spec.title}, 5 + int(55 * i / max(len(specs), 1)))
        rows = _rows(spec, patient)
        if not rows:
            continue
        history = _history(spec, patient)
        ct = cts[spec.model]
        section = str(spec.section)
        if not sections or sections[-1]["title"] != section:
            sections.append({"title": section, "anchor": f"section-{len(sections) + 1}", "forms": []})
        for row in rows:
            sigs = signatures.get((ct.pk, row.pk), [])
            text = Text()
            text.block(_state(row, patient, sigs, study_lock))
            text.heading(_("Values"))
            text.block(
                key_values(
                    [(str(f.verbose_name), _value(row, f)) for f in services.data_fields(type(row))]
                    + _m2m(row)
                )
            )
            for child in _children(row):
                text.heading(child["title"])
                text.table(child["table"])
            if sigs:  # none: the state above says "Not signed" (three lines less per form to lay out)
                text.heading(_("Signatures"))
                text.table(_signature_table(sigs))
            text.heading(_("Change history"))
            text.table(_history_table(history_rows(row, records=history.get(row.pk, []))), empty="—")
            form_events = _event_table(events.get((ct.pk, row.pk), []))
            if form_events:
                text.heading(_("Audit events"))
                text.table(form_events)
            form = {
                "anchor": f"{spec.slug}-{row.pk}",
                "title": f"{spec.title}" + (f" #{row.pk}" if spec.many else ""),
                "status": _("%(status)s · version %(v)s")
                % {"status": row.get_status_display(), "v": row.version},
                "body": text.html(),
                "cjk": text.cjk,
                "lines": text.lines,
            }
            forms.append(form)
            sections[-1]["forms"].append(form)
    casebook = Text()
    casebook.heading(_("Casebook signatures"))
    casebook.table(
        _signature_table(casebook_signatures, casebook=True), empty=_("The casebook has never been signed.")
    )
    casebook.heading(_("Lock history"))
    casebook.table(
        _lock_table(lock_events), empty=_("The casebook, its forms and the study have never been locked.")
    )
    if casebook_events:
        casebook.heading(_("Other casebook events"))
        casebook.table(_event_table(casebook_events))
    return {
        "patient": patient,
        "forms": forms,
        "sections": sections,
        "casebook_state": _casebook_state(patient, casebook_signatures, study_lock),
        "casebook": {"body": casebook.html(), "cjk": casebook.cjk, "lines": casebook.lines},
        "study_id": settings.STUDY_ID,
        "study_title": settings.STUDY_TITLE,
        "protocol_version": settings.PROTOCOL_VERSION,
        "generated_by": _user(user),
        "generated_at": timezone.localtime(),
        "css_header_left": css_string(f"{settings.STUDY_ID} · " + _("Casebook %(p)s") % {"p": patient.label}),
        "css_header_right": css_string(_("Printed %(d)s") % {"d": stamp(timezone.now())}),
        "css_footer_left": css_string(_("Patient %(p)s") % {"p": patient.label}),
        "css_page": css_string(_("Page")),
    }


#: Text lines per portrait page (7 pt at 1.25 line height in 257 mm, less headings), for the progress bar.
LINES_PER_PAGE = 70


def expected_pages(context: dict[str, Any]) -> int:
    """About how many pages the casebook will have, from its text lines."""
    lines = context["casebook"]["lines"] + sum(4 + form["lines"] for form in context["forms"])
    return 3 + len(context["sections"]) + lines // LINES_PER_PAGE


def build_casebook(patient: Any, *, user: Any, progress: Progress = _noop) -> bytes:
    """Return the casebook PDF of ``patient`` (reads up to 60 %, layout page by page to 90 %, then the file)."""
    context = casebook_context(patient, user=user, progress=progress)
    html = render_to_string(TEMPLATE, context)
    return html_to_pdf(
        html, progress, Stage(layout_from=60, write_from=90, expected_pages=expected_pages(context))
    )
