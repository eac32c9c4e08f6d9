"""Embedded default (``make run``): the dashboard before and after a CRF change, through a real server.

Usage:
    .venv/bin/python bench/embedded_dashboard.py [--db FILE] [--generated 60] [--port PORT] [--runs 1]

Runs what ``make run`` runs (``DJANGO_DEBUG=1``, SQLite, no broker, no Redis: tasks in-process and the
local-memory cache) on a temporary SQLite file (``--db FILE`` keeps and reuses one; the demo study is loaded by
``setup_demo --generated N`` when the file has no patient), then ``manage.py runserver`` on a free port
(autoreloader on, as ``make run``). Then, timed from this process over HTTP:
  start-up      from launching runserver until it answers (the app and URLconf load, any warm-up);
  login         the investigator signs in;
  first view    the investigator's first dashboard (the snapshot of setup_demo is current);
  save          the coordinator submits a new adverse event through the form page;
  after change  the investigator's dashboard: the stale snapshot is recomputed in the request (no worker);
  again         the dashboard once more (nothing changed).
CPU = user + system seconds of the server processes during that step (the machine may be shared: compare CPU).
Target (issue 20): the first dashboard view after a change <= 1.5 s at 60 patients, no module loading in it.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from procs import free_port, wait_port  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_"))}
    env.update(DATABASE_URL=f"sqlite:///{db}", DJANGO_DEBUG="1", PYTHONPATH=str(ROOT))
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )


def _has_patients(env: dict[str, str]) -> bool:
    code = "import django; django.setup(); from enrollment.models import Patient; print(Patient.objects.exists())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "sabr_trial.settings"},
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return out.strip().endswith("True")


def _session_cpu(sid: int) -> float:
    """User + system seconds of every live process of the server's session (runserver and its child)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # field 6 (session id), counted after the ")" of the command name
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def _login(base: str, username: str) -> requests.Session:
    s = requests.Session()
    page = s.get(f"{base}/accounts/login/", timeout=120)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, "no CSRF token on the login page"
    r = s.post(
        f"{base}/accounts/login/",
        data={
            "csrfmiddlewaretoken": token.group(1),
            "username": username,
            "password": f"sabr-demo-{username}",
        },
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=120,
    )
    assert r.ok and "/accounts/login/" not in r.url, f"{username} could not sign in ({r.status_code})"
    return s


def _writer_patient(env: dict[str, str]) -> int:
    """A registered living patient to add the AE to (what bench/requests_1user.py saves to)."""
    code = (
        "import django; django.setup(); from enrollment.models import Patient; "
        "print(Patient.objects.filter(registration_date__isnull=False, "
        "enrollment_deathreport_set__isnull=True).order_by('pk').first().pk)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "sabr_trial.settings"},
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return int(out.split()[-1])


def _save_ae(s: requests.Session, base: str, patient_id: int) -> requests.Response:
    import datetime

    url = f"{base}/patients/{patient_id}/forms/adverse-event/new/"
    page = s.get(url, timeout=120)
    assert page.ok, f"AE form: {page.status_code} at {url}"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token
    onset = (datetime.date.today() - datetime.timedelta(days=10)).isoformat()
    data = {
        "csrfmiddlewaretoken": token.group(1),
        "ctcae_term": "10016256",  # fatigue
        "verbatim": f"embedded bench {time.time_ns()}",
        "grade": "2",
        "onset_date": onset,
        "ongoing": "Y",
        **dict.fromkeys(("serious", "aesdth", "aeslife", "aeshosp", "aesdisab", "aescong", "aesmie"), "N"),
        "rel_sabr": "UNLIKELY",
        "rel_axitinib": "POSSIBLE",
        "rel_toripalimab": "POSSIBLE",
        "immune_related": "N",
        "acn_axitinib": "DOSE NOT CHANGED",
        "acn_toripalimab": "DOSE NOT CHANGED",
        "acn_sabr": "DOSE NOT CHANGED",
        "treatment_given": "N",
        "action": "submit",
    }
    r = s.post(url, data=data, headers={"Referer": url}, timeout=120, allow_redirects=False)
    assert r.status_code == 302, f"the AE was not saved ({r.status_code}): {r.text[:2000]}"
    return r


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", help="SQLite file to use and keep (default: a temporary one)")
    parser.add_argument("--generated", type=int, default=60)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--runs", type=int, default=1, help="change-and-view rounds after the first view")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="sabr-embedded-")
    db = Path(args.db) if args.db else Path(tmp) / "embedded.sqlite3"
    env = _env(db.resolve())
    t = time.perf_counter()
    _manage(env, "migrate", "--noinput")
    if not _has_patients(env):
        _manage(env, "setup_demo", "--generated", str(args.generated))
        print(f"demo study loaded in {time.perf_counter() - t:.0f} s", flush=True)
    writer = _writer_patient(env)
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    rows: list[tuple[str, float, float, int]] = []
    t0 = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(Path(tmp) / "server.log", "w"),  # noqa: SIM115
        start_new_session=True,
    )
    try:
        wait_port(port, 300, server)
        while True:  # the port opens before the autoreloader's child has loaded the app
            try:
                requests.get(f"{base}/accounts/login/", timeout=300)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        rows.append(("start-up", time.perf_counter() - t0, _session_cpu(server.pid), 200))

        def step(name: str, fn: Any) -> Any:
            c0, t1 = _session_cpu(server.pid), time.perf_counter()
            r = fn()
            rows.append((name, time.perf_counter() - t1, _session_cpu(server.pid) - c0, r.status_code))
            return r

        investigator = _login(base, "investigator")
        coordinator = _login(base, "coordinator")
        dashboard = f"{base}/endpoints/"
        step("first view", lambda: investigator.get(dashboard, timeout=300))
        for i in range(args.runs):
            suffix = f" ({i + 1})" if args.runs > 1 else ""
            step("save (new AE)" + suffix, lambda: _save_ae(coordinator, base, writer))
            step("after change" + suffix, lambda: investigator.get(dashboard, timeout=300))
            step("again" + suffix, lambda: investigator.get(dashboard, timeout=300))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    print(f"\nEmbedded default (SQLite, no broker), {args.generated} generated patients, port {port}")
    print("| step | wall | server CPU | status |")
    print("|---|---|---|---|")
    for name, wall, cpu, status in rows:
        print(f"| {name} | {wall:.2f} s | {cpu:.2f} s | {status} |")
    after = [r for r in rows if r[0].startswith("after change")]
    ok = all(r[1] <= 1.5 for r in after)
    print(f"\n  [{'met' if ok else 'MISSED'}] first dashboard view after a change <= 1.5 s")


if __name__ == "__main__":
    main()
