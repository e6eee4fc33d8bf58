"""The event recorder against the real apiserver: core/v1 Events as `kubectl
describe` shows them, repeats aggregated into one Event with a count, and
recording that never blocks nor raises, even with the apiserver gone."""

from __future__ import annotations

from typing import Any

import pytest

from apimachinery.scheme import lookup
from client.api import APIClient
from client.events import NORMAL, WARNING, EventRecorder
from tests.processes import ApiserverProcess

pytestmark = pytest.mark.etcd

CONFIGMAPS = lookup("", "v1", "configmaps")
EVENTS = lookup("", "v1", "events")
NODES = lookup("", "v1", "nodes")
JSON = dict[str, Any]


async def events_about(api: APIClient, namespace: str, name: str) -> list[JSON]:
    items = (await api.list(EVENTS, namespace=namespace))["items"]
    return sorted(
        (e for e in items if e["involvedObject"]["name"] == name),
        key=lambda e: (e["reason"], e["message"]),
    )


async def test_repeats_are_counted_on_one_event(api: APIClient) -> None:
    cm = await api.create(
        CONFIGMAPS, {"metadata": {"name": "evented", "namespace": "default"}, "data": {}}
    )
    recorder = EventRecorder(api, "test-controller", "host-1")
    for _ in range(3):
        recorder.event(cm, NORMAL, "Synced", "configmap synced")
    recorder.event(cm, WARNING, "Failed", "could not do it")
    recorder.event(cm, NORMAL, "Synced", "another message")
    await recorder.flush(timeout=60)

    synced, failed, other = _three(await events_about(api, "default", "evented"))
    assert synced["count"] == 3
    assert synced["type"] == "Normal"
    assert synced["message"] == "configmap synced"
    assert synced["source"] == {"component": "test-controller", "host": "host-1"}
    assert synced["involvedObject"]["kind"] == "ConfigMap"
    assert synced["involvedObject"]["uid"] == cm["metadata"]["uid"]
    assert synced["involvedObject"]["namespace"] == "default"
    assert synced["firstTimestamp"] <= synced["lastTimestamp"]
    assert synced["metadata"]["namespace"] == "default"
    assert failed["type"] == "Warning"
    assert failed["count"] == 1
    assert other["count"] == 1
    await recorder.close()


def _three(events: list[JSON]) -> tuple[JSON, JSON, JSON]:
    by = {(e["reason"], e["message"]): e for e in events}
    assert len(events) == 3, events
    return (
        by[("Synced", "configmap synced")],
        by[("Failed", "could not do it")],
        by[("Synced", "another message")],
    )


async def test_cluster_scoped_objects_get_their_events_in_default(api: APIClient) -> None:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "worker-x", "uid": "1234"},
    }
    recorder = EventRecorder(api, "kubelet", "worker-x")
    recorder.event(node, NORMAL, "NodeReady", "Node worker-x status is now: NodeReady")
    await recorder.flush(timeout=60)
    (event,) = await events_about(api, "default", "worker-x")
    assert event["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "Node",
        "name": "worker-x",
        "uid": "1234",
    }
    await recorder.close()


async def test_never_blocks_nor_raises(api: APIClient, apiserver: ApiserverProcess) -> None:
    recorder = EventRecorder(api, "test-controller")
    recorder.event({}, NORMAL, "Odd", "an object with nothing in it")
    recorder.event({"metadata": None}, NORMAL, "Odd", "a broken object")
    apiserver.stop()
    for i in range(2000):  # more than the queue holds: the rest are dropped
        recorder.event(
            {"kind": "ConfigMap", "metadata": {"name": f"x{i}", "namespace": "default"}},
            WARNING,
            "Unreachable",
            "the apiserver is down",
        )
    await recorder.close()
