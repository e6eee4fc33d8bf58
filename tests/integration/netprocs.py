"""Networking components (kube-proxy, cluster DNS, ingress) as real processes.

Each runs `python -m <package>` against a test apiserver, with its health
port on loopback, and is stopped by the test that started it. Tests poll
(`tests.polling.eventually`) rather than sleep, and assert on timing only where
an issue states a bound for users (kube-proxy restart).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.processes import ROOT, free_port, http_ok, wait_until


class ComponentProcess:
    def __init__(self, package: str, apiserver: str, work_dir: Path, *args: str) -> None:
        self.package = package
        self.health_port = free_port()
        self.health_url = f"http://127.0.0.1:{self.health_port}"
        self.args = [
            sys.executable,
            "-m",
            package,
            "--apiserver",
            apiserver,
            "--health-address",
            f"127.0.0.1:{self.health_port}",
            *args,
        ]
        self.log = work_dir / f"{package}-{self.health_port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        self.proc = subprocess.Popen(
            self.args, cwd=ROOT, stdout=self.log.open("ab"), stderr=subprocess.STDOUT
        )

        def healthy() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.package} exited: {self.log.read_text()[-3000:]}")
            return http_ok(f"{self.health_url}/healthz")

        wait_until(healthy, timeout, f"{self.package} did not become healthy")

    def logs(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

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


def start_dns(apiserver: str, work_dir: Path, *args: str) -> tuple[ComponentProcess, int]:
    """The cluster DNS as a process on a free loopback port: (process, DNS port)."""
    port = free_port()
    proc = ComponentProcess(
        "cluster_dns", apiserver, work_dir, "--dns-address", f"127.0.0.1:{port}", *args
    )
    proc.start()
    return proc, port
