"""Cross-field edit checks of the assessment CRFs (CRF-SPEC EC-LR-*, EC-TA-*). Filled in below."""

from __future__ import annotations

from typing import Any


def check_lesion(lesion: Any) -> None:
    """EC-LR-1..3 (see below)."""


def check_assessment(assessment: Any) -> None:
    """EC-TA-2 (see below)."""
