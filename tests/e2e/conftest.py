"""The compose cluster for end-to-end tests, driven by the real kubectl.

The session fixture `cluster` takes `flock /tmp/kubelab-compose.lock` (one
test session owns the shared compose cluster at a time), removes whatever
kubelab cluster was there, runs `kubelab up` with a kubeconfig of its own in a
temporary directory, and runs `kubelab down` at the end. Tests get:

- `cluster.kubectl(*args)`: the real kubectl against that kubeconfig
  (raises CalledProcessError with kubectl's stderr on failure unless check=False);
- `cluster.kubectl_json(*args)`: the same with `-o json`, parsed;
- `cluster.kubelab(*args)`: the lab CLI with the same environment;
- `namespace`: a fresh namespace, deleted afterwards;
- `eventually(fn, timeout)`: poll until fn returns a truthy value without
  raising, else raise its last error (never a fixed sleep as an assertion).

Tests marked `last` run after every other e2e test (for instance the one that
takes the cluster down).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.processes import ROOT, need

T = TypeVar("T")
LOCK = Path("/tmp/kubelab-compose.lock")
UP_TIMEOUT_S = 420


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "last: run after every other end-to-end test")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)


def eventually(fn: Callable[[], T], timeout: float = 60, interval: float = 0.5) -> T:
    """fn's first truthy result; its last error (or a timeout) if none comes in time."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = fn()
            if result:
                return result
            error: BaseException = AssertionError(f"{fn} stayed falsy for {timeout} s")
        except (AssertionError, subprocess.CalledProcessError, OSError, KeyError) as e:
            error = e
        if time.monotonic() > deadline:
            raise error
        time.sleep(interval)


@dataclass
class Cluster:
    """A running kubelab cluster and how to talk to it."""

    kubeconfig: Path
    env: dict[str, str]
    up_seconds: float = 0.0

    def run(
        self, argv: list[str], *, check: bool, timeout: float, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            argv,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            check=False,
            cwd=ROOT,
        )
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, argv, result.stdout, result.stderr
            )
        return result

    def kubectl(
        self, *args: str, check: bool = True, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        kubectl = shutil.which("kubectl") or "/usr/bin/kubectl"
        return self.run([kubectl, *args], check=check, timeout=timeout, input=input)

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def kubelab(
        self, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return self.run([sys.executable, "-m", "kubelab", *args], check=check, timeout=timeout)


def _diagnostics() -> str:
    """The last log lines of every kubelab container, for a failed `kubelab up`."""
    names = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "--filter",
            "label=com.docker.compose.project=kubelab",
            "--format",
            "{{.Names}} {{.Status}}",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    parts = []
    for line in names:
        name = line.split()[0]
        logs = subprocess.run(
            ["docker", "logs", "--tail", "15", name], capture_output=True, text=True, check=False
        )
        parts.append(f"--- {line}\n{logs.stdout}{logs.stderr}")
    return "\n".join(parts)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    for tool in ("docker", "kubectl"):
        if shutil.which(tool) is None:
            need(tool, "the end-to-end tests drive the compose cluster with it")
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        need("the Docker Engine", "the cluster runs on it")
    home = tmp_path_factory.mktemp("kube")
    env = {
        **os.environ,
        "KUBECONFIG": str(home / "config"),
        "KUBELAB_COMPOSE_LOCK_HELD": "1",
        "PYTHONPATH": str(ROOT),
    }
    c = Cluster(kubeconfig=home / "config", env=env)
    with LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            c.kubelab("down", check=False)
            started = time.monotonic()
            up = c.kubelab(
                "up", "--timeout", str(UP_TIMEOUT_S - 60), check=False, timeout=UP_TIMEOUT_S
            )
            c.up_seconds = time.monotonic() - started
            if up.returncode != 0:
                pytest.fail(
                    f"kubelab up failed:\n{up.stdout}\n{up.stderr}\n{_diagnostics()}",
                    pytrace=False,
                )
            print(f"kubelab up took {c.up_seconds:.0f} s")
            yield c
        finally:
            c.kubelab("down", check=False)
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(name="eventually")
def eventually_fixture() -> Callable[..., Any]:
    return eventually
