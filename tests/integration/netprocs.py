"""Networking components (kube-proxy, cluster DNS, ingress) as real processes.

Each runs `python -m <package>` against a test apiserver, with its health
port on loopback, and is stopped by the test that started it. Helpers for
polling (`eventually`) live here too: tests poll rather than sleep, and assert
on timing only where an issue states a bound for users (kube-proxy restart).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from apimachinery import errors
from tests.processes import ROOT, free_port, http_ok, wait_until

T = TypeVar("T")


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


async def eventually(
    check: Callable[[], Awaitable[T]], *, within: float = 20, what: str = "condition"
) -> T:
    """Retry `check` until it returns without raising; its result."""
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        try:
            return await check()
        except (AssertionError, LookupError, OSError, TimeoutError, errors.APIError) as e:
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {within}s: {last!r}")
        await asyncio.sleep(0.1)
