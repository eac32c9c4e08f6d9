"""Load benchmark (issue 20): `make bench-load`.

Production shape on this machine, everything on 127.0.0.1: gunicorn (``--workers``, 4 by default) on PostgreSQL (its
own database, ``sabr_load_bench`` by default, dropped and created again, loaded with the demo study), its own
redis-server (cache db 0, broker db 1), a Celery worker and the endpoints worker, as docker-compose runs them.

Simulated users (threads of ``requests`` sessions, each signed in through the login page) work for ``--seconds``
at each level of ``--levels`` (1, 5 and 20 users): per four users, two coordinators enter adverse events on their
own patient and read their casebook, the largest demo casebook, a form page, the worklist and the API; one
coordinator edits one of two shared rows that other users edit too (racing saves: 302 when merged, 409 when both
changed the same field); one user reads as an investigator (dashboard, casebook, to-do), a monitor (SDV page) or a
data manager (query list), in turn. Each user waits ``--think`` seconds between requests (0: as fast as it can).

Printed per level: requests per second, p50/p95/p99 per request kind, responses by status, and the CPU seconds
per request of gunicorn and the Celery workers (/proc/<pid>) and of the whole machine (/proc/stat: PostgreSQL and
the simulated users' threads included). Bounded in time (levels x seconds) and in count (``--max-requests`` per user).

Targets (issue 20): with 20 users >= 100 requests/s, save p95 <= 400 ms, no error but 409/412.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.faults import _env, _recreate_database, _setup_django  # noqa: E402
from bench.procs import Browser, RedisServer, Service, free_port, gunicorn, start_workers  # noqa: E402

PASSWORD = "bench-load-password-1"
CLK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes and their children alive now (from /proc)."""
    total = 0.0
    seen: set[int] = set()
    stack = list(pids)
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children[int(fields[1])].append(int(entry.name))
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLK
        stack.extend(children.get(pid, []))
    return total


def _machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine (/proc/stat: every process, PostgreSQL and these clients too)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLK


def _backend_pids(database_url: str) -> list[int]:
    """PostgreSQL backends serving the benchmark's database now (gunicorn's and the workers' connections)."""
    from urllib.parse import urlparse

    import psycopg

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    with psycopg.connect(url._replace(path="/postgres").geturl(), autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [name]).fetchall()
    return [int(r[0]) for r in rows]


def _read_backends(database_url: str, seen: dict[int, float]) -> None:
    """Note the CPU seconds of each backend alive now (the largest reading of each is kept)."""
    for pid in _backend_pids(database_url):
        seen[pid] = max(seen.get(pid, 0.0), _cpu_seconds([pid]))


def _sample_backends(database_url: str, seen: dict[int, float], stop: threading.Event) -> None:
    """Read the backends' CPU every second until ``stop`` is set: a backend that ends during the level (its
    connection closed at CONN_MAX_AGE) keeps its last reading."""
    while not stop.wait(1.0):
        _read_backends(database_url, seen)


def _client_cpu_seconds() -> float:
    """User + system CPU seconds of this process: the simulated users' threads."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = collections.defaultdict(list)
        self.statuses: collections.Counter[str] = collections.Counter()
        self.stop = threading.Event()

    def note(self, kind: str, status: str, seconds: float) -> None:
        with self.lock:
            self.times[kind].append(seconds)
            self.statuses[status] += 1


def _timed(rec: Recorder, kind: str, call: Any) -> Any:
    start = time.perf_counter()
    try:
        response = call()
        status = str(response.status_code)
    except Exception as exc:  # a refused connection or a timeout is a result to count, not a crash
        response, status = None, type(exc).__name__
    rec.note(kind, status, time.perf_counter() - start)
    return response


def _seed(users: int) -> dict[str, Any]:
    """Users and rows: a coordinator and a registered patient per simulated user, two shared AE rows, the other
    roles; the demo study is already loaded."""
    from django.db.models import Count

    from adverse_events.models import AdverseEvent
    from enrollment.models import Patient
    from sabr_trial.services import crf_create
    from tests.factories import RegisteredPatientFactory, UserFactory
    from tests.factories_adverse_events import ae_payload, ensure_ctcae_terms

    ensure_ctcae_terms()
    for role in ("investigator", "monitor", "data_manager"):
        UserFactory(username=f"load-{role}", role=role, password=PASSWORD)
    own = []
    for i in range(users):
        user = UserFactory(username=f"load-coord-{i}", role="coordinator", password=PASSWORD)
        own.append((user.username, RegisteredPatientFactory(study_number=f"L-{i:04d}").pk))
    shared_patient = RegisteredPatientFactory(study_number="L-SHARED")
    form = ae_payload()
    data = {k: v for k, v in form.items() if k not in ("action", "ctcae_term") and v != ""}
    from adverse_events.models import CtcaeTerm

    data["ctcae_term"] = CtcaeTerm.objects.get(meddra_code=int(form["ctcae_term"]))
    data["onset_date"] = form["onset_date"]
    shared = [
        crf_create(
            model=AdverseEvent,
            patient=shared_patient,
            acting_user=UserFactory(username=f"load-seed-{n}", role="coordinator", password=PASSWORD),
            data={**data, "verbatim": f"shared {n}"},
        )
        for n in range(2)
    ]
    largest = (
        Patient.objects.annotate(n=Count("adverse_events_adverseevent_set")).order_by("-n", "pk").first()
    )
    return {
        "own": own,
        "shared": [(shared_patient.pk, ae.pk) for ae in shared],
        "largest": largest.pk if largest else shared_patient.pk,
    }


def _user_loop(
    base: str, index: int, seed: dict[str, Any], rec: Recorder, think: float, max_requests: int
) -> None:
    import re

    from django.urls import reverse

    from tests.factories_adverse_events import ae_payload

    slot = index % 4
    username, own = seed["own"][index]
    other_roles = ["load-investigator", "load-monitor", "load-data_manager"]
    login_as = other_roles[(index // 4) % 3] if slot == 3 else username
    try:
        user = Browser(base, login_as, PASSWORD, timeout=120)
    except Exception as exc:
        rec.note("login", f"login failed: {type(exc).__name__}", 0.0)
        return
    largest = seed["largest"]
    shared_patient, shared_ae = seed["shared"][index % 2]
    edit = reverse("crf_update", args=[shared_patient, "adverse-event", shared_ae])
    new_ae = reverse("crf_create", args=[own, "adverse-event"])
    reads = {
        0: [
            ("casebook (own)", reverse("casebook", args=[own])),
            ("casebook (largest)", reverse("casebook", args=[largest])),
            ("worklist", reverse("visits:worklist")),
            ("API patients", "/api/v1/patients/"),
        ],
        1: [
            ("casebook (own)", reverse("casebook", args=[own])),
            ("form page", reverse("crf_create", args=[own, "adverse-event"])),
            ("patient list", reverse("patient_list")),
        ],
        2: [("form page", edit), ("casebook (largest)", reverse("casebook", args=[largest]))],
        3: [
            ("dashboard", reverse("endpoints:dashboard")),
            ("casebook (largest)", reverse("casebook", args=[largest])),
            ("SDV page", reverse("patient_sdv", args=[largest])),
            ("query list", reverse("query_list")),
        ],
    }[slot]
    n = 0
    while not rec.stop.is_set() and n < max_requests:
        n += 1
        if slot in (0, 1) and n % 3 == 0:
            form = _timed(rec, "form page", lambda: user.s.get(user.base + new_ae, timeout=user.timeout))
            if form is None:
                continue
            payload = {**ae_payload(verbatim=f"{username} {n}"), "csrfmiddlewaretoken": user._csrf(form.text)}
            _timed(
                rec,
                "save: new AE",
                lambda p=payload: user.s.post(
                    user.base + new_ae,
                    data=p,
                    allow_redirects=False,
                    headers={"Referer": user.base + new_ae},
                    timeout=user.timeout,
                ),
            )
        elif slot == 2 and n % 2 == 0:
            page = _timed(rec, "form page", lambda: user.s.get(user.base + edit, timeout=user.timeout))
            if page is None:
                continue
            version = re.search(r'name="expected_version" value="(\d+)"', page.text)
            payload = {
                **ae_payload(verbatim=f"shared edit {username} {n}"),
                "change_reason": "load test",
                "expected_version": version.group(1) if version else "1",
                "csrfmiddlewaretoken": user._csrf(page.text),
            }
            _timed(
                rec,
                "save: racing edit",
                lambda p=payload: user.s.post(
                    user.base + edit,
                    data=p,
                    allow_redirects=False,
                    headers={"Referer": user.base + edit},
                    timeout=user.timeout,
                ),
            )
        else:
            kind, path = reads[n % len(reads)]
            _timed(rec, kind, lambda path=path: user.get(path))
        if think:
            time.sleep(think)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sabr_load_bench"),
    )
    parser.add_argument("--levels", default="1,5,20", help="numbers of simulated users, one run each")
    parser.add_argument("--seconds", type=int, default=30, help="seconds of each level")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--think", type=float, default=0.0, help="seconds each user waits between requests")
    parser.add_argument(
        "--max-requests", type=int, default=5000, help="per user and level (a bound besides time)"
    )
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]

    redis = RedisServer().start()
    env = _env(args.database_url, redis)
    services: list[Service] = []
    try:
        _recreate_database(args.database_url, env)
        subprocess.run(
            [sys.executable, "manage.py", "setup_demo"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        _setup_django(env)
        seed = _seed(max(levels))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        services.append(web := gunicorn(env, port, workers=args.workers))
        worker, endpoints_worker = start_workers("load", env)
        services += [worker, endpoints_worker]
        server_pids = [web.pid, worker.pid, endpoints_worker.pid]
        print(
            f"\ngunicorn {args.workers} workers; {args.seconds} s per level; think time {args.think} s; "
            f"{os.cpu_count()} CPUs\n"
        )
        warm = Recorder()  # every gunicorn worker imports and connects before anything is measured
        warmers = [
            threading.Thread(target=_user_loop, args=(base, i, seed, warm, 0.0, 40), daemon=True)
            for i in range(min(4, max(levels)))
        ]
        for t in warmers:
            t.start()
        for t in warmers:
            t.join(timeout=120)
        summary = []
        for users in levels:
            rec = Recorder()
            threads = [
                threading.Thread(
                    target=_user_loop, args=(base, i, seed, rec, args.think, args.max_requests), daemon=True
                )
                for i in range(users)
            ]
            parts = {
                "gunicorn": [web.pid],
                "Celery worker": [worker.pid],
                "endpoints worker": [endpoints_worker.pid],
                "redis-server": [redis.proc.pid] if redis.proc else [],
            }
            before = {name: _cpu_seconds(pids) for name, pids in parts.items()}
            pg_before = {pid: _cpu_seconds([pid]) for pid in _backend_pids(args.database_url)}
            # A backend lives as long as its connection (CONN_MAX_AGE): one may end during the level, so its CPU is
            # read every second and the last reading kept (not only the backends alive at the end).
            pg_seen: dict[int, float] = dict(pg_before)
            sampling = threading.Event()
            sampler = threading.Thread(
                target=_sample_backends, args=(args.database_url, pg_seen, sampling), daemon=True
            )
            sampler.start()
            client0 = _client_cpu_seconds()
            cpu0, all0 = _cpu_seconds(server_pids), _machine_cpu_seconds()
            t0 = time.monotonic()
            for t in threads:
                t.start()
            time.sleep(args.seconds)
            rec.stop.set()
            for t in threads:
                t.join(timeout=150)
            elapsed = time.monotonic() - t0
            cpu = _cpu_seconds(server_pids) - cpu0
            machine = _machine_cpu_seconds() - all0
            total = sum(len(v) for v in rec.times.values())
            split = {name: _cpu_seconds(pids) - before[name] for name, pids in parts.items()}
            sampling.set()
            sampler.join(timeout=10)
            _read_backends(args.database_url, pg_seen)
            # every backend seen during the level (to its last reading); one that started during it counts from 0
            split["PostgreSQL (this database's backends)"] = sum(
                cpu - pg_before.get(pid, 0.0) for pid, cpu in pg_seen.items()
            )
            split["simulated users (this process)"] = _client_cpu_seconds() - client0
            split["rest of the machine"] = machine - sum(split.values())
            rps = total / elapsed
            print(
                f"### {users} user(s): {total} requests in {elapsed:.1f} s = {rps:.1f} requests/s; "
                f"CPU {1000 * cpu / max(total, 1):.1f} ms/request in gunicorn and the workers, "
                f"{1000 * machine / max(total, 1):.1f} ms/request on the whole machine\n"
            )
            print("| request | count | p50 ms | p95 ms | p99 ms |")
            print("|---|---|---|---|---|")
            for kind in sorted(rec.times):
                v = rec.times[kind]
                print(
                    f"| {kind} | {len(v)} | {statistics.median(v) * 1000:.0f} | {_pct(v, 0.95):.0f} | "
                    f"{_pct(v, 0.99):.0f} |"
                )
            print(f"\nresponses by status: {dict(sorted(rec.statuses.items()))}\n")
            print("| CPU of | ms/request | share |")
            print("|---|---|---|")
            for name, seconds in split.items():
                print(
                    f"| {name} | {1000 * seconds / max(total, 1):.1f} | {100 * seconds / max(machine, 1e-9):.0f} % |"
                )
            print()
            saves = [t for k, v in rec.times.items() if k.startswith("save") for t in v]
            bad = sum(n for s, n in rec.statuses.items() if s[:1] not in "23" and s not in ("409", "412"))
            summary.append(
                (users, rps, _pct(saves, 0.95) if saves else 0.0, bad, 1000 * machine / max(total, 1))
            )
        print("| users | requests/s | save p95 ms | errors (not 409/412) | machine CPU ms/request |")
        print("|---|---|---|---|---|")
        for users, rps, p95, bad, cpu_ms in summary:
            print(f"| {users} | {rps:.1f} | {p95:.0f} | {bad} | {cpu_ms:.1f} |")
    finally:
        for service in services:
            service.stop()
        redis.cleanup()


if __name__ == "__main__":
    main()
