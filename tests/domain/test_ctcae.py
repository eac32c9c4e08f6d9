"""CTCAE v5.0 dictionary (DOMAIN.md R6.1-R6.5): counts, every R6.3 spot check, "Other, specify", search."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from adverse_events.ctcae import (
    CTCAE_VERSION,
    DEFAULT_TERMS_PATH,
    GENERIC_GRADE_TEXTS,
    CtcaeError,
    CtcaeTerm,
    allowed_grades,
    default_terms,
    format_grades,
    get_term,
    grade_wording,
    load_terms,
    search,
    terms_by_code,
    validate_grade,
    validate_verbatim,
)

TERMS = default_terms()
BY_CODE = terms_by_code(TERMS)

SOCS = [
    "Blood and lymphatic system disorders",
    "Cardiac disorders",
    "Congenital, familial and genetic disorders",
    "Ear and labyrinth disorders",
    "Endocrine disorders",
    "Eye disorders",
    "Gastrointestinal disorders",
    "General disorders and administration site conditions",
    "Hepatobiliary disorders",
    "Immune system disorders",
    "Infections and infestations",
    "Injury, poisoning and procedural complications",
    "Investigations",
    "Metabolism and nutrition disorders",
    "Musculoskeletal and connective tissue disorders",
    "Neoplasms benign, malignant and unspecified (incl cysts and polyps)",
    "Nervous system disorders",
    "Pregnancy, puerperium and perinatal conditions",
    "Psychiatric disorders",
    "Renal and urinary disorders",
    "Reproductive system and breast disorders",
    "Respiratory, thoracic and mediastinal disorders",
    "Skin and subcutaneous tissue disorders",
    "Social circumstances",
    "Surgical and medical procedures",
    "Vascular disorders",
]


def _count(predicate: Callable[[CtcaeTerm], bool]) -> int:
    return sum(1 for term in TERMS if predicate(term))


# R6.1 / R6.3 / R6.4 counts.
COUNTS = [
    ("terms", lambda: len(TERMS), 837),
    ("unique codes", lambda: len(BY_CODE), 837),
    ("unique names", lambda: len({t.term for t in TERMS}), 837),
    ("SOCs", lambda: len({t.soc for t in TERMS}), 26),
    ("G1 not available", lambda: _count(lambda t: t.grades[0] is None), 192),
    ("G2 not available", lambda: _count(lambda t: t.grades[1] is None), 92),
    ("G3 not available", lambda: _count(lambda t: t.grades[2] is None), 87),
    ("G4 not available", lambda: _count(lambda t: t.grades[3] is None), 286),
    ("G5 not available", lambda: _count(lambda t: t.grades[4] is None), 343),
    ("G5 allowed", lambda: _count(lambda t: 5 in allowed_grades(t)), 494),
    ("G5 text is Death", lambda: _count(lambda t: t.grades[4] == "Death"), 494),
    ("other specify", lambda: _count(lambda t: t.is_other_specify), 26),
    ("other specify SOCs", lambda: len({t.soc for t in TERMS if t.is_other_specify}), 26),
    ("no definition", lambda: _count(lambda t: t.definition is None), 26),
    ("navigational notes", lambda: _count(lambda t: t.navigational_note is not None), 74),
]


@pytest.mark.parametrize(("name", "measure", "expected"), COUNTS, ids=[c[0] for c in COUNTS])
def test_counts(name: str, measure: object, expected: int) -> None:
    assert measure() == expected  # type: ignore[operator]


# R6.3 spot checks (plus SOURCE.txt's neutrophil check and the R7.5 term).
SPOT_CHECKS = [
    (10016256, "Fatigue", (1, 2, 3)),
    (10001551, "Alanine aminotransferase increased", (1, 2, 3, 4)),
    (10050528, "Ejection fraction decreased", (2, 3, 4)),
    (10011914, "Death NOS", (5,)),
    (10020772, "Hypertension", (1, 2, 3, 4, 5)),
    (10054524, "Palmar-plantar erythrodysesthesia syndrome", (1, 2, 3)),
    (10037032, "Proteinuria", (1, 2, 3)),
    (10029366, "Neutrophil count decreased", (1, 2, 3, 4)),
    (10061818, "Disease progression", (5,)),
]


@pytest.mark.parametrize(("code", "name", "grades"), SPOT_CHECKS, ids=[s[1] for s in SPOT_CHECKS])
def test_spot_check_allowed_grades(code: int, name: str, grades: tuple[int, ...]) -> None:
    assert allowed_grades(BY_CODE[code]) == grades


@pytest.mark.parametrize(("code", "name", "grades"), SPOT_CHECKS, ids=[s[1] for s in SPOT_CHECKS])
def test_spot_check_term_name(code: int, name: str, grades: tuple[int, ...]) -> None:
    assert BY_CODE[code].term == name


SPOT_GRADE_CASES = [
    pytest.param(code, grade, grade in grades, id=f"{name}-G{grade}")
    for code, name, grades in SPOT_CHECKS
    for grade in (1, 2, 3, 4, 5)
]


@pytest.mark.parametrize(("code", "grade", "accepted"), SPOT_GRADE_CASES)
def test_spot_check_validate_grade(code: int, grade: int, accepted: bool) -> None:
    try:
        validate_grade(BY_CODE[code], grade)
        outcome = True
    except CtcaeError:
        outcome = False
    assert outcome is accepted


@pytest.mark.parametrize(
    ("code", "grade", "message"),
    [
        (
            10016256,
            4,
            "Grade 4 does not exist for 'Fatigue' (10016256) in CTCAE v5.0: allowed grades 1-3 (R6.3)",
        ),
        (
            10011914,
            1,
            "Grade 1 does not exist for 'Death NOS' (10011914) in CTCAE v5.0: allowed grades 5 (R6.3)",
        ),
        (
            10050528,
            1,
            "Grade 1 does not exist for 'Ejection fraction decreased' (10050528) in CTCAE v5.0: "
            "allowed grades 2-4 (R6.3)",
        ),
        (
            10014950,
            2,
            "Grade 2 does not exist for 'Eosinophilia' (10014950) in CTCAE v5.0: allowed grades 1, 3 (R6.3)",
        ),
    ],
    ids=["fatigue-G4", "death-nos-G1", "lvef-G1", "eosinophilia-G2"],
)
def test_validate_grade_message(code: int, grade: int, message: str) -> None:
    with pytest.raises(CtcaeError) as caught:
        validate_grade(BY_CODE[code], grade)
    assert str(caught.value) == message


@pytest.mark.parametrize("grade", [0, 6, -1, True, "3", 2.0], ids=["0", "6", "-1", "bool", "str", "float"])
def test_validate_grade_refuses_non_grades(grade: object) -> None:
    with pytest.raises(CtcaeError, match="grades are 1-5"):
        validate_grade(BY_CODE[10020772], grade)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("grades", "expected"),
    [
        ((1, 2, 3), "1-3"),
        ((5,), "5"),
        ((1, 3), "1, 3"),
        ((1, 3, 4, 5), "1, 3-5"),
        ((1, 4, 5), "1, 4-5"),
        ((), ""),
    ],
)
def test_format_grades(grades: tuple[int, ...], expected: str) -> None:
    assert format_grades(grades) == expected


# R6.4: one "Other, specify" term per SOC; each needs verbatim text.
@pytest.mark.parametrize("soc", SOCS)
def test_one_other_specify_term_per_soc(soc: str) -> None:
    assert len([t for t in TERMS if t.soc == soc and t.is_other_specify]) == 1


@pytest.mark.parametrize("soc", SOCS)
def test_other_specify_needs_verbatim(soc: str) -> None:
    term = next(t for t in TERMS if t.soc == soc and t.is_other_specify)
    with pytest.raises(CtcaeError, match=r"verbatim \(R6.4\)"):
        validate_verbatim(term, "  ")


@pytest.mark.parametrize("soc", SOCS)
def test_other_specify_accepts_verbatim(soc: str) -> None:
    term = next(t for t in TERMS if t.soc == soc and t.is_other_specify)
    validate_verbatim(term, "Hiccups after infusion")  # raises if refused


def test_ordinary_term_needs_no_verbatim() -> None:
    validate_verbatim(BY_CODE[10016256], None)  # raises if refused


def test_other_specify_generic_wording_count() -> None:
    # R6.2: 24 of the 26 rows carry exactly the generic G1-5 texts; Eye and Psychiatric have SOC variants.
    generic = tuple(GENERIC_GRADE_TEXTS[g] for g in (1, 2, 3, 4, 5))
    assert sorted(t.soc for t in TERMS if t.is_other_specify and t.grades != generic) == [
        "Eye disorders",
        "Psychiatric disorders",
    ]


@pytest.mark.parametrize(
    ("code", "grade", "expected"),
    [
        (10005329, 1, GENERIC_GRADE_TEXTS[1]),
        (10005329, 5, "Death"),
        (10016256, 1, "Fatigue relieved by rest"),
        (10020772, 5, "Death"),
    ],
    ids=["blood-other-G1", "blood-other-G5", "fatigue-G1", "hypertension-G5"],
)
def test_grade_wording(code: int, grade: int, expected: str) -> None:
    assert grade_wording(BY_CODE[code], grade) == expected


def test_grade_wording_refuses_missing_grade() -> None:
    eye_other = next(t for t in TERMS if t.soc == "Eye disorders" and t.is_other_specify)
    with pytest.raises(CtcaeError, match="allowed grades 1-4"):
        grade_wording(eye_other, 5)


def test_version() -> None:
    assert CTCAE_VERSION == "5.0"


@pytest.mark.parametrize(
    ("code", "expected"), [(10016256, "Fatigue"), (10011914, "Death NOS")], ids=["fatigue", "death"]
)
def test_get_term(code: int, expected: str) -> None:
    assert get_term(TERMS, code).term == expected


def test_get_term_unknown_code() -> None:
    with pytest.raises(CtcaeError, match=r"Unknown CTCAE v5.0 term code 12345 \(EC-AE-1\)"):
        get_term(TERMS, 12345)


def test_term_is_frozen() -> None:
    with pytest.raises(AttributeError):
        TERMS[0].term = "x"  # type: ignore[misc]


def test_term_str() -> None:
    assert str(BY_CODE[10016256]) == "Fatigue (10016256)"


def test_grade_cells_keep_embedded_newlines() -> None:
    assert "\n" in (BY_CODE[10020772].grades[0] or "")


def test_shipped_file_checksum_matches_provenance() -> None:
    digest = hashlib.sha256(DEFAULT_TERMS_PATH.read_bytes()).hexdigest()
    assert digest in (DEFAULT_TERMS_PATH.parent / "PROVENANCE.md").read_text(encoding="utf-8")


# Search (CRF-SPEC form 17: "search by text or SOC").
SEARCHES = [
    ("fatig", "Fatigue"),
    ("FATIGUE", "Fatigue"),
    ("hypert", "Hypertension"),
    ("colitis", "Colitis"),
    ("pneumon", "Pneumonitis"),
    ("plantar", "Palmar-plantar erythrodysesthesia syndrome"),
    ("alanine incr", "Alanine aminotransferase increased"),
    ("10016256", "Fatigue"),
    ("pain", "Pain"),
    ("hypothyr", "Hypothyroidism"),
    ("Other, specify", "Blood and lymphatic system disorders - Other, specify"),
]


@pytest.mark.parametrize(("query", "first"), SEARCHES, ids=[s[0] for s in SEARCHES])
def test_search_first_hit(query: str, first: str) -> None:
    assert search(TERMS, query)[0].term == first


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # name prefix, then word prefix, then substring
        ("colitis", ["Colitis", "Enterocolitis", "Enterocolitis infectious"]),
        ("hypert", ["Hypertension", "Hyperthyroidism", "Hypertrichosis", "Hypertriglyceridemia"]),
        ("pain", ["Pain", "Pain in extremity", "Pain of skin", "Abdominal pain"]),
        # a term whose name matches outranks the SOC matches
        ("cardiac", ["Cardiac arrest", "Cardiac disorders - Other, specify", "Cardiac troponin I increased"]),
    ],
    ids=["colitis", "hypert", "pain", "cardiac"],
)
def test_search_ranking(query: str, expected: list[str]) -> None:
    assert [t.term for t in search(TERMS, query, limit=len(expected))] == expected


def test_search_matches_soc_after_names() -> None:
    # "psychiatric" names no term except the Other, specify one; the rest of the SOC follows.
    hits = search(TERMS, "psychiatric", limit=50)
    assert {t.soc for t in hits[1:]} == {"Psychiatric disorders"}


@pytest.mark.parametrize(
    ("query", "limit", "expected"), [("", 10, 0), ("   ", 10, 0), ("zzzz", 10, 0), ("a", 7, 7)]
)
def test_search_sizes(query: str, limit: int, expected: int) -> None:
    assert len(search(TERMS, query, limit)) == expected


@pytest.mark.parametrize("limit", [0, -1, True])
def test_search_bad_limit(limit: int) -> None:
    with pytest.raises(CtcaeError):
        search(TERMS, "fatigue", limit)


# The loader refuses damaged files.
HEADER = (
    "meddra_code,meddra_soc,ctcae_term,grade_1,grade_2,grade_3,grade_4,grade_5,"
    "definition,navigational_note\r\n"
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("meddra_code,meddra_soc\r\n1,X\r\n", "missing columns"),
        (HEADER + "abc,SOC,Term,a,b,c,d,e,def,\r\n", "not an integer"),
        (HEADER + "1,SOC,Term,a,,c,d,e,def,\r\n", "blank grade cell"),
        (HEADER + "1,SOC,Term,-,-,-,-,-,def,\r\n", "allows no grade"),
        (HEADER + "1,SOC,Term,a,b,c,d,e,def,\r\n1,SOC,Other,a,b,c,d,e,def,\r\n", "duplicate term"),
        (HEADER + "1,,Term,a,b,c,d,e,def,\r\n", "required"),
    ],
    ids=["columns", "code", "blank-grade", "no-grade", "duplicate", "no-soc"],
)
def test_load_terms_refuses_damaged_file(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "terms.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(CtcaeError, match=message):
        load_terms(path)


def test_load_terms_strips_workbook_padding(tmp_path: Path) -> None:
    # R6.5: raw workbook cells are " -" with NBSP padding.
    path = tmp_path / "terms.csv"
    path.write_text(HEADER + "1,SOC,Term\u00a0, -,b , -\u00a0,d,e, - ,\r\n", encoding="utf-8")
    term: CtcaeTerm = load_terms(path)[0]
    assert (term.term, allowed_grades(term), term.definition) == ("Term", (2, 4, 5), None)


def test_default_terms_is_cached() -> None:
    assert default_terms() is TERMS


def test_socs_listed_in_test_match_file() -> None:
    assert Counter(t.soc for t in TERMS).keys() == set(SOCS)
