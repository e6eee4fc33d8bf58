"""Metadata helpers: keys, owner references, conditions."""

from __future__ import annotations

import pytest

from apimachinery import meta


def test_keys() -> None:
    pod = {"metadata": {"name": "web", "namespace": "default"}}
    assert meta.key(pod) == "default/web"
    assert meta.key({"metadata": {"name": "node-1"}}) == "node-1"
    assert meta.split_key("default/web") == ("default", "web")
    assert meta.split_key("node-1") == ("", "node-1")
    with pytest.raises(ValueError):
        meta.split_key("a/b/c")


def test_owner_reference_and_controlled_by() -> None:
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r", "uid": "u1"}}
    ref = meta.owner_reference(rs)
    assert ref == {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "r",
        "uid": "u1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    pod = {"metadata": {"name": "p", "ownerReferences": [ref]}}
    assert meta.is_controlled_by(pod, rs)
    assert not meta.is_controlled_by(pod, {"metadata": {"uid": "other"}})
    assert not meta.is_controlled_by({"metadata": {}}, rs)


def test_conditions_transition_time_moves_only_on_status_change() -> None:
    node: dict[str, object] = {"kind": "Node", "metadata": {"name": "n"}}
    assert meta.set_condition(node, "Ready", "True", reason="KubeletReady", timestamp="t1")
    assert not meta.set_condition(node, "Ready", "True", reason="KubeletReady", timestamp="t2")
    cond = meta.get_condition(node, "Ready")
    assert cond is not None
    assert cond["lastTransitionTime"] == "t1"
    assert meta.set_condition(node, "Ready", "False", reason="NodeStatusUnknown", timestamp="t3")
    cond = meta.get_condition(node, "Ready")
    assert cond is not None
    assert (cond["status"], cond["lastTransitionTime"]) == ("False", "t3")
    assert meta.get_condition(node, "MemoryPressure") is None


def test_rfc3339() -> None:
    ts = meta.now_rfc3339()
    assert ts.endswith("Z")
    assert len(ts) == 20
    assert meta.parse_time(ts).tzinfo is not None
