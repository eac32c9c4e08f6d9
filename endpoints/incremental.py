"""Per-patient memo of the endpoint recompute: derive only the patients whose data changed (issue 7).

A patient's entry (derived endpoints, plot data, listing row) and safety part (the AE counts it adds to the
safety summary) are stored under a key made of everything they depend on:

- the code: a hash of the source files of every app the derivation reads (any deployment starts cold);
- the data cut-off and the derivation settings (D1-D9);
- the patient's id and study number, and the content of every row the collector reads for the patient, field
  by field (``collect.content_hashes``: PostgreSQL hashes the rows where they are; other databases hash the
  rows Python read).

Same inputs, same key: an entry can be old but never stale, so nothing ever has to be invalidated, and a form
changed by any route (a save, the import, a data migration, SQL typed by hand) changes the key of its patient.
Entries live in this process (those of its last run) and in the shared cache (Redis in production, where another
worker process finds them) for ``ENDPOINT_MEMO_HOURS`` hours (0 turns the shared level off).
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.core.cache import cache

from endpoints import collect
from endpoints.derivation import DEFAULT_SETTINGS, DerivationSettings, PatientEndpoints, derive_patient
from endpoints.engine import PatientPlotData, patient_row_json
from sabr_trial.env import env_int

log = logging.getLogger(__name__)

#: Hours an entry stays in the shared cache after it was computed (0: this process's memo only). The default
#: cut-off is today and the cut-off is part of every key, so a day's entries are of no use the next day.
MEMO_HOURS = env_int("ENDPOINT_MEMO_HOURS", 26, minimum=0)
#: Entries written to the shared cache per round trip.
_SHARED_BATCH = 500
#: The apps whose code a derived entry depends on (the collector, the derivation, RECIST, the AE tables).
_CODE_APPS = ("endpoints", "assessments", "treatment", "enrollment", "adverse_events")


@dataclass(frozen=True)
class PatientEntry:
    """What one patient contributes to a snapshot, at one cut-off."""

    derived: PatientEndpoints
    plot: PatientPlotData
    row_json: str  # the derivation listing row (engine.patient_row_json)


@dataclass(frozen=True)
class SafetyPart:
    """What one patient's AEs (onset on or before the cut-off) add to the safety summary: per row, 0 or 1 patient."""

    n_episodes: int
    overview: tuple[int, ...]
    related: tuple[tuple[int, int], ...]  # (any grade, grade >= 3) per agent row


@dataclass
class StudyInputs:
    """One recompute's per-patient results, in patient order, and how many came from the memo."""

    entries: list[PatientEntry]
    safety_parts: list[SafetyPart]
    fingerprint: str
    hits: int = 0
    shared_hits: int = 0
    misses: int = 0
    safety_misses: int = 0
    timings: dict[str, float] = field(default_factory=dict)


_code_version: str | None = None
#: The last run's entries, by key; replaced by each run's (bounded by one study's worth).
_memo: dict[str, Any] = {}
_memo_lock = threading.Lock()
#: Part of every shared-cache key; ``clear`` changes it (tests), production keeps "" so restarts find entries.
_namespace = ""


def code_version() -> str:
    """A hash of the source of every app the entries depend on, and of the Python version."""
    global _code_version
    if _code_version is None:
        digest = hashlib.sha256(sys.version.encode())
        root = Path(django_settings.BASE_DIR)
        for app in _CODE_APPS:
            for path in sorted((root / app).rglob("*.py")):
                if "migrations" not in path.parts:
                    digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
        _code_version = digest.hexdigest()
    return _code_version


def clear() -> None:
    """Forget every entry: this process's and, by a new namespace, the shared cache's (tests)."""
    global _namespace
    with _memo_lock:
        _memo.clear()
    _namespace = uuid.uuid4().hex


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def shared_level() -> bool:
    """Whether entries also go to the shared cache: only a cache other processes see (not the in-process one of
    the embedded default, where it would hold a second copy of this process's memo)."""
    return bool(MEMO_HOURS) and "locmem" not in django_settings.CACHES["default"]["BACKEND"].lower()


def _shared_key(key: str) -> str:
    return f"endpoints:memo:{_namespace}:{key}"


def _lookup(keys: Iterable[str], found: dict[str, Any]) -> int:
    """Fill ``found`` from this process's memo, then the shared cache; return the shared hits."""
    wanted = [k for k in keys if k not in found]
    with _memo_lock:
        for key in wanted:
            if key in _memo:
                found[key] = _memo[key]
    rest = [k for k in wanted if k not in found]
    if not rest or not shared_level():
        return 0
    try:
        shared = cache.get_many([_shared_key(k) for k in rest])
    except Exception as exc:  # the shared cache is an optimisation: without it every such patient is derived
        log.warning("endpoint memo: shared cache unavailable (%s)", exc)
        return 0
    hits = 0
    for key in rest:
        value = shared.get(_shared_key(key))
        if value is not None:
            found[key] = value
            hits += 1
    return hits


def safety_part(episodes: Sequence[Any]) -> SafetyPart:
    """One patient's contribution to the safety summary, from the same table functions as the safety page.

    Every count of the overview and the related-AE rows is a count of patients, and AE chains never cross
    patients (EC-AE-4), so the study's table is the sum of its patients' tables with N = 1.
    """
    from adverse_events import reporting

    return SafetyPart(
        n_episodes=len(episodes),
        overview=tuple(row.count.n for row in reporting.overview(episodes, 1)),
        related=tuple(
            (row.counts.any_grade.n, row.counts.grade_3_or_higher.n)
            for row in reporting.related_by_agent(episodes, 1)
        ),
    )


@dataclass
class _Keys:
    patients: list[dict[str, Any]]
    keys: dict[int, str]  # patient id -> entry key
    ae_keys: dict[Any, str]  # patient id (with AEs) -> safety part key
    fingerprint: str
    all_rows: dict[str, dict[int, list[dict[str, Any]]]] | None  # read already (not PostgreSQL)
    all_episodes: dict[Any, list[Any]] | None


def _study_keys(cutoff: datetime.date, settings: DerivationSettings) -> _Keys:
    from adverse_events.selectors import episodes

    patients = collect.registered_patients(cutoff)
    hashes = collect.content_hashes((*collect.SOURCES, collect.ae_source()))
    all_rows = all_episodes = None
    if (
        hashes is None
    ):  # not PostgreSQL: read everything and hash it here (the embedded default; small studies)
        all_rows = collect.read_rows()
        all_episodes = defaultdict(list)
        for episode in episodes():
            all_episodes[episode.patient_id].append(episode)
        hashes = collect.python_hashes({**all_rows, "ae": all_episodes})
    base = f"{code_version()}|{cutoff.isoformat()}|{settings!r}"
    data_keys = {
        p["pk"]: "|".join(
            (
                str(p["pk"]),
                p["study_number"],
                *(hashes.get(p["pk"], {}).get(s.key, "-") for s in collect.SOURCES),
            )
        )
        for p in patients
    }
    ae_hashes = {pid: h["ae"] for pid, h in hashes.items() if "ae" in h}
    fingerprint = _sha(
        f"{cutoff.isoformat()}|"
        + "\n".join(data_keys[p["pk"]] for p in patients)
        + "\nae|"
        + "\n".join(f"{pid}:{h}" for pid, h in sorted(ae_hashes.items()))
    )
    return _Keys(
        patients=patients,
        keys={pid: _sha(f"{base}|{data}") for pid, data in data_keys.items()},
        ae_keys={pid: _sha(f"{base}|ae|{pid}|{h}") for pid, h in ae_hashes.items()},
        fingerprint=fingerprint,
        all_rows=all_rows,
        all_episodes=all_episodes,
    )


def input_fingerprint(cutoff: datetime.date, settings: DerivationSettings = DEFAULT_SETTINGS) -> str:
    """The input fingerprint a recompute at ``cutoff`` would store for the data as they are now: a hash of
    every patient's content hashes and the cut-off (same rows, same fingerprint)."""
    return _study_keys(cutoff, settings).fingerprint


def read_study(cutoff: datetime.date, settings: DerivationSettings = DEFAULT_SETTINGS) -> StudyInputs:
    """Every registered patient's entry and every AE patient's safety part at ``cutoff``, deriving only the
    patients whose key is in neither memo. A fixed number of queries whatever the number of patients."""
    from adverse_events.selectors import episodes

    t0 = time.perf_counter()
    study = _study_keys(cutoff, settings)
    patients, keys, ae_keys = study.patients, study.keys, study.ae_keys
    all_rows, all_episodes = study.all_rows, study.all_episodes
    timings = {"hash_s": time.perf_counter() - t0}

    t0 = time.perf_counter()
    found: dict[str, Any] = {}
    with _memo_lock:
        local_hits = sum(1 for k in (*keys.values(), *ae_keys.values()) if k in _memo)
    shared_hits = _lookup((*keys.values(), *ae_keys.values()), found)
    timings["memo_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    new: dict[str, Any] = {}
    missing = [p for p in patients if keys[p["pk"]] not in found]
    if missing:
        ids = [p["pk"] for p in missing]
        rows = (
            all_rows
            if all_rows is not None
            else collect.read_rows(ids if 2 * len(ids) < len(patients) else None)
        )
        records, plots = collect.build_patients(missing, rows, cutoff)
        for record, plot in zip(records, plots, strict=True):
            derived = derive_patient(record, settings)
            new[keys[record.patient_id]] = PatientEntry(derived, plot, patient_row_json(derived))
    missing_ae = [pid for pid, key in ae_keys.items() if key not in found]
    if missing_ae:
        if all_episodes is None:
            all_episodes = defaultdict(list)
            for episode in episodes(patient_ids=missing_ae):
                all_episodes[episode.patient_id].append(episode)
        for pid in missing_ae:
            eps = [e for e in all_episodes.get(pid, []) if e.onset_date <= cutoff]
            new[ae_keys[pid]] = safety_part(eps)
    found.update(new)
    timings["derive_s"] = time.perf_counter() - t0

    used = {k: found[k] for k in (*keys.values(), *ae_keys.values())}
    with _memo_lock:
        _memo.clear()
        _memo.update(used)
    if new and shared_level():
        try:
            items = list(new.items())
            for start in range(0, len(items), _SHARED_BATCH):  # batches bound the pickled copies held at once
                batch = items[start : start + _SHARED_BATCH]
                cache.set_many({_shared_key(k): v for k, v in batch}, timeout=MEMO_HOURS * 3600)
        except Exception as exc:
            log.warning("endpoint memo: shared cache unavailable (%s)", exc)
    return StudyInputs(
        entries=[found[keys[p["pk"]]] for p in patients],
        safety_parts=[found[ae_keys[pid]] for pid in sorted(ae_keys)],
        fingerprint=study.fingerprint,
        hits=local_hits,
        shared_hits=shared_hits,
        misses=len(missing),
        safety_misses=len(missing_ae),
        timings=timings,
    )
