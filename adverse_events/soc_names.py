"""The 26 system organ classes of CTCAE v5.0, marked for translation, and search by a translated SOC name.

No translation of the CTCAE term names into Chinese is available under a licence that allows shipping it (the
Chinese MedDRA is licensed by the MSSO; NCI publishes CTCAE in English only), so term names and their grade
texts stay English; the organ classes and the grade scale are translated here by the project (issue 18).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext, gettext_noop

from adverse_events.ctcae import CtcaeTerm

SOC_NAMES = [
    gettext_noop("Blood and lymphatic system disorders"),
    gettext_noop("Cardiac disorders"),
    gettext_noop("Congenital, familial and genetic disorders"),
    gettext_noop("Ear and labyrinth disorders"),
    gettext_noop("Endocrine disorders"),
    gettext_noop("Eye disorders"),
    gettext_noop("Gastrointestinal disorders"),
    gettext_noop("General disorders and administration site conditions"),
    gettext_noop("Hepatobiliary disorders"),
    gettext_noop("Immune system disorders"),
    gettext_noop("Infections and infestations"),
    gettext_noop("Injury, poisoning and procedural complications"),
    gettext_noop("Investigations"),
    gettext_noop("Metabolism and nutrition disorders"),
    gettext_noop("Musculoskeletal and connective tissue disorders"),
    gettext_noop("Neoplasms benign, malignant and unspecified (incl cysts and polyps)"),
    gettext_noop("Nervous system disorders"),
    gettext_noop("Pregnancy, puerperium and perinatal conditions"),
    gettext_noop("Psychiatric disorders"),
    gettext_noop("Renal and urinary disorders"),
    gettext_noop("Reproductive system and breast disorders"),
    gettext_noop("Respiratory, thoracic and mediastinal disorders"),
    gettext_noop("Skin and subcutaneous tissue disorders"),
    gettext_noop("Social circumstances"),
    gettext_noop("Surgical and medical procedures"),
    gettext_noop("Vascular disorders"),
]


def soc_label(soc: str) -> str:
    """The SOC name in the active language (the English name when it has no translation)."""
    return gettext(soc)


def search_by_translated_soc(terms: Iterable[CtcaeTerm], query: str, limit: int) -> list[CtcaeTerm]:
    """Terms whose SOC's name in the active language contains ``query`` (e.g. 胃肠 for gastrointestinal)."""
    query = query.strip()
    if not query or query.isascii():
        return []
    matching = {soc for soc in SOC_NAMES if query in gettext(soc)}
    return sorted((t for t in terms if t.soc in matching), key=lambda t: t.term.casefold())[:limit]
