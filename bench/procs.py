"""Real processes for the fault tests and ``bench/faults.py``: a private redis-server, gunicorn, Celery workers.

Everything binds to 127.0.0.1 on a free port; nothing here touches a shared Redis. Each helper returns a handle
whose ``stop()`` ends only the process it started.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, seconds: float = 60, proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


class RedisServer:
    """A private redis-server (no persistence) that can be stopped and started again on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="sabr-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, 20, self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Service:
    """A child process with its output in a file (read it when something fails)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.log = Path(tempfile.mkstemp(prefix=f"sabr-{name}-", suffix=".log")[1])
        self._fh = self.log.open("wb")
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=self._fh, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill9(self) -> None:
        """SIGKILL the whole process group (a prefork worker's children die with it, as in a crash)."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
        self._fh.close()


def celery_worker(
    name: str,
    env: dict[str, str],
    *,
    queues: str = "celery",
    beat: bool = False,
    pool: str = "solo",
    concurrency: int = 1,
) -> Service:
    """A Celery worker with docker-compose's flags (no gossip, no mingle); ``pool="prefork"`` as in production."""
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "sabr_trial",
        "worker",
        "-P",
        pool,
        "-c",
        str(concurrency),
        "-Q",
        queues,
        "-l",
        "INFO",
        "-n",
        f"{name}-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    if beat:
        argv += ["-B", "-s", str(Path(tempfile.mkdtemp(prefix="sabr-beat-")) / "schedule")]
    return Service(name, argv, env)


def gunicorn(env: dict[str, str], port: int, workers: int = 2) -> Service:
    service = Service(
        "gunicorn",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "sabr_trial.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--timeout",
            "120",
            "--graceful-timeout",
            "5",
        ],
        env,
    )
    wait_port(port, 120, service.proc)
    return service


def start_workers(
    prefix: str, env: dict[str, str], *, beat: bool = False, concurrency: int = 1
) -> list[Service]:
    """The two workers of docker-compose.yml (default queue, and the endpoint recompute's own queue), once ready."""
    worker = celery_worker(f"{prefix}-worker", env, beat=beat, pool="prefork", concurrency=concurrency)
    endpoints_worker = celery_worker(f"{prefix}-endpoints", env, queues="endpoints", pool="prefork")
    for service in (worker, endpoints_worker):
        wait_log(service, r"ready\.")
    return [worker, endpoints_worker]


def wait_log(service: Service, pattern: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if re.search(pattern, service.output()):
            return
        if not service.alive():
            raise RuntimeError(f"{service.name} died:\n{service.output()[-3000:]}")
        time.sleep(0.3)
    raise TimeoutError(f"{service.name}: no {pattern!r} after {seconds} s:\n{service.output()[-3000:]}")


class Browser:
    """A signed-in user of the running site (requests session with the CSRF token of the login form)."""

    def __init__(self, base: str, username: str, password: str, timeout: float = 60) -> None:
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.s = requests.Session()
        page = self.s.get(self.base + "/accounts/login/", timeout=timeout)
        response = self.s.post(
            self.base + "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": self._csrf(page.text)},
            headers={"Referer": self.base + "/accounts/login/"},
            allow_redirects=False,
            timeout=timeout,
        )
        if response.status_code != 302:
            raise RuntimeError(f"login of {username} failed: {response.status_code}")

    @staticmethod
    def _csrf(html: str) -> str:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        if not match:
            raise RuntimeError("no CSRF token on the page")
        return match.group(1)

    def get(self, path: str) -> requests.Response:
        return self.s.get(self.base + path, timeout=self.timeout, allow_redirects=False)

    def post_form(self, path: str, data: dict[str, Any], *, page: str | None = None) -> requests.Response:
        """GET the page holding the form (``path`` itself by default) for its CSRF token, then POST the form."""
        form = self.s.get(self.base + (page or path), timeout=self.timeout)
        payload = {**data, "csrfmiddlewaretoken": self._csrf(form.text)}
        return self.s.post(
            self.base + path,
            data=payload,
            headers={"Referer": self.base + path},
            allow_redirects=False,
            timeout=self.timeout,
        )
