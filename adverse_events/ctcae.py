"""CTCAE v5.0 term dictionary: loading, grade validation and search (DOMAIN.md section 6).

Pure module: standard library only. The term file ships with the app as
``adverse_events/data/ctcae_v5.0.csv``; its provenance, checksums and transformation are in
``adverse_events/data/PROVENANCE.md`` (R6.5).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = [
    "CTCAE_VERSION",
    "DEFAULT_TERMS_PATH",
    "GENERIC_GRADE_TEXTS",
    "GRADES",
    "GRADE_LABELS",
    "NOT_AVAILABLE",
    "OTHER_SPECIFY_SUFFIX",
    "CtcaeError",
    "CtcaeTerm",
    "allowed_grades",
    "default_terms",
    "format_grades",
    "get_term",
    "grade_wording",
    "is_other_specify_name",
    "load_terms",
    "search",
    "terms_by_code",
    "validate_grade",
    "validate_verbatim",
]

# R6.4: the protocol fixes v5.0; the version is stored on every AE record and never mixed.
CTCAE_VERSION = "5.0"

DEFAULT_TERMS_PATH = Path(__file__).resolve().parent / "data" / "ctcae_v5.0.csv"

GRADES: tuple[int, ...] = (1, 2, 3, 4, 5)

# R6.3: "-" in a grade cell means the grade is not available for the term.
NOT_AVAILABLE = "-"

# R6.4: one "<SOC> - Other, specify" term per SOC (26), each needing verbatim text.
OTHER_SPECIFY_SUFFIX = " - Other, specify"

# R6.2: the general meaning of each grade.
GRADE_LABELS: Mapping[int, str] = {
    1: "Mild",
    2: "Moderate",
    3: "Severe or medically significant but not immediately life-threatening",
    4: "Life-threatening",
    5: "Death related to AE",
}

# R6.2/R6.4: the generic G1-5 wording an "Other, specify" grade is chosen from. These are the cells of 24 of
# the 26 "Other, specify" rows of the v5.0 clean copy; "Eye disorders" and "Psychiatric disorders" carry their
# own SOC-specific variant (the eye term has no grade 5), which grade_wording() returns for those two terms.
GENERIC_GRADE_TEXTS: Mapping[int, str] = {
    1: "Asymptomatic or mild symptoms; clinical or diagnostic observations only; intervention not indicated",
    2: (
        "Moderate; minimal, local or noninvasive intervention indicated; "
        "limiting age-appropriate instrumental ADL"
    ),
    3: (
        "Severe or medically significant but not immediately life-threatening; "
        "hospitalization or prolongation of existing hospitalization indicated; limiting self care ADL"
    ),
    4: "Life-threatening consequences; urgent intervention indicated",
    5: "Death",
}

_COLUMNS = (
    "meddra_code",
    "meddra_soc",
    "ctcae_term",
    "grade_1",
    "grade_2",
    "grade_3",
    "grade_4",
    "grade_5",
    "definition",
    "navigational_note",
)
# R6.5: the raw workbook pads cells with spaces and NBSP (" -"); strip both before comparing.
_STRIP = " \t\r\n\u00a0"
_WORD = re.compile(r"[0-9a-z]+")

GradeTexts = tuple[str | None, str | None, str | None, str | None, str | None]


class CtcaeError(ValueError):
    """A CTCAE term, grade or term file is not acceptable."""


@dataclass(frozen=True)
class CtcaeTerm:
    """One CTCAE v5.0 term (R6.1).

    ``grades[g - 1]`` is the grade-g text, or None where the cell is "-" (R6.3).
    """

    meddra_code: int
    soc: str
    term: str
    grades: GradeTexts
    definition: str | None
    navigational_note: str | None
    is_other_specify: bool

    def __str__(self) -> str:
        return f"{self.term} ({self.meddra_code})"

    def grade_text(self, grade: int) -> str | None:
        """Return the term's text for ``grade``, or None if the grade is not available (R6.3)."""
        _require_grade_number(grade)
        return self.grades[grade - 1]


def _require_grade_number(grade: int) -> None:
    if isinstance(grade, bool) or not isinstance(grade, int) or grade not in GRADES:
        raise CtcaeError(f"{grade!r} is not a CTCAE v{CTCAE_VERSION} grade: grades are 1-5 (R6.2)")


def is_other_specify_name(term_name: str) -> bool:
    """Return True for an "<SOC> - Other, specify" term name (R6.4)."""
    return term_name.endswith(OTHER_SPECIFY_SUFFIX)


def _clean(cell: str | None) -> str:
    return (cell or "").strip(_STRIP)


def _optional(cell: str) -> str | None:
    return None if cell in ("", NOT_AVAILABLE) else cell


def _parse_row(row: Mapping[str, str | None], line: int) -> CtcaeTerm:
    cells = {column: _clean(row.get(column)) for column in _COLUMNS}
    try:
        code = int(cells["meddra_code"])
    except ValueError:
        raise CtcaeError(f"line {line}: MedDRA code {cells['meddra_code']!r} is not an integer") from None
    if not cells["ctcae_term"] or not cells["meddra_soc"]:
        raise CtcaeError(f"line {line}: term and SOC are required")
    raw_grades = [cells[f"grade_{grade}"] for grade in GRADES]
    if any(text == "" for text in raw_grades):
        # The clean copy has a text or "-" in every grade cell; a blank means a damaged file.
        raise CtcaeError(f"line {line}: blank grade cell for {cells['ctcae_term']!r}")
    g1, g2, g3, g4, g5 = (None if text == NOT_AVAILABLE else text for text in raw_grades)
    grades: GradeTexts = (g1, g2, g3, g4, g5)
    if all(text is None for text in grades):
        raise CtcaeError(f"line {line}: {cells['ctcae_term']!r} allows no grade")
    return CtcaeTerm(
        meddra_code=code,
        soc=cells["meddra_soc"],
        term=cells["ctcae_term"],
        grades=grades,
        definition=_optional(cells["definition"]),
        navigational_note=_optional(cells["navigational_note"]),
        is_other_specify=is_other_specify_name(cells["ctcae_term"]),
    )


def load_terms(path: Path | str | None = None) -> tuple[CtcaeTerm, ...]:
    """Parse the CTCAE v5.0 term file (R6.1, R6.5) in file order; refuse a malformed or duplicated file."""
    source = DEFAULT_TERMS_PATH if path is None else Path(path)
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in _COLUMNS if column not in (reader.fieldnames or ())]
        if missing:
            raise CtcaeError(f"{source.name}: missing columns {', '.join(missing)}")
        terms = tuple(_parse_row(row, reader.line_num) for row in reader)
    seen_codes: set[int] = set()
    seen_names: set[str] = set()
    for term in terms:
        if term.meddra_code in seen_codes or term.term in seen_names:
            raise CtcaeError(f"{source.name}: duplicate term {term}")
        seen_codes.add(term.meddra_code)
        seen_names.add(term.term)
    return terms


@lru_cache(maxsize=1)
def default_terms() -> tuple[CtcaeTerm, ...]:
    """Return the shipped v5.0 term list, parsed once per process."""
    return load_terms()


def terms_by_code(terms: Iterable[CtcaeTerm]) -> dict[int, CtcaeTerm]:
    """Index terms by MedDRA LLT code (R6.1)."""
    return {term.meddra_code: term for term in terms}


def get_term(terms: Iterable[CtcaeTerm], meddra_code: int) -> CtcaeTerm:
    """Return the term with ``meddra_code``; an unknown code is refused (EC-AE-1)."""
    for term in terms:
        if term.meddra_code == meddra_code:
            return term
    raise CtcaeError(f"Unknown CTCAE v{CTCAE_VERSION} term code {meddra_code!r} (EC-AE-1)")


def allowed_grades(term: CtcaeTerm) -> tuple[int, ...]:
    """Return the grades that exist for ``term``: those whose cell is not "-" (R6.3)."""
    return tuple(grade for grade in GRADES if term.grades[grade - 1] is not None)


def format_grades(grades: Iterable[int]) -> str:
    """Return grades as runs, e.g. (1, 2, 3) -> "1-3" and (1, 3, 4, 5) -> "1, 3-5"."""
    runs: list[list[int]] = []
    for grade in sorted(set(grades)):
        if runs and grade == runs[-1][-1] + 1:
            runs[-1].append(grade)
        else:
            runs.append([grade])
    return ", ".join(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)


def validate_grade(term: CtcaeTerm, grade: int) -> None:
    """Refuse a grade that does not exist for ``term`` (R6.3, EC-AE-1)."""
    _require_grade_number(grade)
    allowed = allowed_grades(term)
    if grade not in allowed:
        raise CtcaeError(
            f"Grade {grade} does not exist for '{term.term}' ({term.meddra_code}) in CTCAE v{CTCAE_VERSION}: "
            f"allowed grades {format_grades(allowed)} (R6.3)"
        )


def validate_verbatim(term: CtcaeTerm, verbatim: str | None) -> None:
    """Require verbatim text for an "Other, specify" term (R6.4, EC-AE-1)."""
    if term.is_other_specify and not (verbatim or "").strip():
        raise CtcaeError(f"'{term.term}' ({term.meddra_code}) needs the reported term in verbatim (R6.4)")


def grade_wording(term: CtcaeTerm, grade: int) -> str:
    """Return the text a user picks for ``grade``: the term's own cell; "Other, specify" rows hold the generic
    wording of their SOC (R6.2, R6.4). A grade that does not exist is refused (R6.3)."""
    validate_grade(term, grade)
    text = term.grades[grade - 1]
    if text is None:  # unreachable: validate_grade refused every "-" cell
        raise CtcaeError(f"Grade {grade} does not exist for '{term.term}' (R6.3)")
    return text


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _rank(term: CtcaeTerm, query: str, tokens: list[str]) -> int | None:
    """Return the match rank of ``term`` (lower is better) or None if it does not match."""
    if query.isdigit():
        code = str(term.meddra_code)
        return 0 if code == query else 1 if code.startswith(query) else None
    name_words = _words(term.term)
    name = " ".join(name_words)
    soc_words = _words(term.soc)
    if name == query:
        return 0
    if name.startswith(query):
        return 1
    if all(any(word.startswith(token) for word in name_words) for token in tokens):
        return 2
    if query in name:
        return 3
    if all(any(word.startswith(token) for word in soc_words) for token in tokens):
        return 4
    if query in " ".join(soc_words):
        return 5
    return None


def search(terms: Iterable[CtcaeTerm], query: str, limit: int = 20) -> list[CtcaeTerm]:
    """Return up to ``limit`` terms matching ``query``, best first (CRF-SPEC form 17: by text or SOC).

    Order: exact name; name starts with the query; every query word starts a word of the name; the query
    occurs inside the name; then the same word-prefix and substring tests on the SOC. A query of digits
    matches the MedDRA code. Ties are alphabetical by term. Case, hyphens and punctuation are ignored.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise CtcaeError(f"search limit must be a positive int, got {limit!r}")
    tokens = _words(query)
    if not tokens:
        return []
    normalised = " ".join(tokens)
    ranked: list[tuple[int, str, CtcaeTerm]] = []
    for term in terms:
        rank = _rank(term, normalised, tokens)
        if rank is not None:
            ranked.append((rank, term.term.casefold(), term))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [term for _, _, term in ranked[:limit]]
