"""The common component frame (`client.component.main`) as a real process:
health and metrics endpoints, waiting for the apiserver, leader election
between two replicas, and a clean stop on SIGTERM that hands the lease over."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from apimachinery import errors
from apimachinery.scheme import lookup
from client.api import APIClient
from tests.polling import eventually
from tests.processes import ROOT, ApiserverProcess, free_port

pytestmark = pytest.mark.etcd

CONFIGMAPS = lookup("", "v1", "configmaps")
LEASES = lookup("coordination.k8s.io", "v1", "leases")
EVENTS = lookup("", "v1", "events")


class Sample:
    def __init__(self, apiserver: str, tag: str, log_dir: Path, *flags: str) -> None:
        self.health_port = free_port()
        self.log = log_dir / f"sample-{tag}.log"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.sample_component",
                "--apiserver",
                apiserver,
                "--health-address",
                f"127.0.0.1:{self.health_port}",
                "--tag",
                tag,
                *flags,
            ],
            cwd=ROOT,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.health_port}{path}", timeout=2
            ) as r:
                return int(r.status), r.read().decode()
        except urllib.error.HTTPError as e:
            return int(e.code), e.read().decode()
        except OSError:
            return 0, ""

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        return int(self.proc.returncode)


@pytest.fixture
def samples() -> Iterator[list[Sample]]:
    started: list[Sample] = []
    yield started
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


async def exists(api: APIClient, name: str) -> bool:
    try:
        await api.get(CONFIGMAPS, name, namespace="default")
    except errors.NotFound:
        return False
    return True


async def test_health_metrics_and_clean_stop(
    apiserver: ApiserverProcess, api: APIClient, tmp_path: Path, samples: list[Sample]
) -> None:
    sample = Sample(apiserver.address, "solo", tmp_path, "--no-leader-elect")
    samples.append(sample)
    await eventually(lambda: exists(api, "sample-solo"), what="the component running")
    status, body = sample.get("/healthz")
    assert (status, body) == (200, "ok")
    status, body = sample.get("/readyz?verbose")
    assert status == 200
    assert "[+]apiserver ok" in body
    status, body = sample.get("/metrics")
    assert 'sample_component_workqueue_adds_total{name="sample"} 1.0' in body
    assert sample.stop() == 0
    assert "stopped" in sample.log.read_text()


async def test_waits_for_the_apiserver(
    apiserver: ApiserverProcess, api: APIClient, tmp_path: Path, samples: list[Sample]
) -> None:
    apiserver.stop()
    sample = Sample(apiserver.address, "early", tmp_path, "--no-leader-elect")
    samples.append(sample)
    await eventually(lambda: sample.get("/healthz")[0] != 0, what="the health endpoint")
    status, body = sample.get("/readyz")
    assert status == 500
    assert "[-]apiserver failed" in body
    await eventually(
        lambda: "waiting for the apiserver" in sample.log.read_text(), what="a waiting message"
    )
    apiserver.start()
    await eventually(lambda: exists(api, "sample-early"), what="the component running")
    assert sample.get("/readyz")[0] == 200
    assert sample.stop() == 0


async def test_two_replicas_one_leader_and_handover_on_sigterm(
    apiserver: ApiserverProcess, api: APIClient, tmp_path: Path, samples: list[Sample]
) -> None:
    timing = [
        "--leader-elect-lease-duration",
        "8",
        "--leader-elect-renew-deadline",
        "6",
        "--leader-elect-retry-period",
        "1",
    ]
    one = Sample(apiserver.address, "one", tmp_path, *timing)
    samples.append(one)
    await eventually(lambda: exists(api, "sample-one"), what="the first replica leading")
    two = Sample(apiserver.address, "two", tmp_path, *timing)
    samples.append(two)
    await eventually(lambda: two.get("/healthz")[0] == 200, what="the second replica up")
    lease = await api.get(LEASES, "sample-component", namespace="kube-system")
    assert lease["spec"]["holderIdentity"].split("_")[0]  # hostname_uuid
    assert not await exists(api, "sample-two"), "a standby replica must not run"

    assert one.stop() == 0  # releases the lease on the way out
    await eventually(lambda: exists(api, "sample-two"), what="the second replica taking over")
    lease = await api.get(LEASES, "sample-component", namespace="kube-system")
    assert lease["spec"]["leaseTransitions"] == 1

    async def two_leader_events() -> bool:
        items = (await api.list(EVENTS, namespace="kube-system"))["items"]
        return (
            len(
                [
                    e
                    for e in items
                    if e["reason"] == "LeaderElection"
                    and e["involvedObject"]["name"] == "sample-component"
                    and e["message"].endswith(" became leader")
                ]
            )
            == 2
        )

    await eventually(two_leader_events, what="a LeaderElection event per term")
    assert two.stop() == 0
