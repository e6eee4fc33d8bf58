"""Patch semantics (pure logic): merge patch, strategic merge patch with its
merge keys and directives, server-side apply ownership, update tracking."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apimachinery import errors, patch
from apimachinery.scheme import lookup

DEPLOY = lookup("apps", "v1", "deployments")
PODS = lookup("", "v1", "pods")


def smp(current: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    return patch.apply_patch(DEPLOY, current, patch.STRATEGIC_MERGE_PATCH, json.dumps(p).encode())


def pod_spec(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


def test_merge_patch_null_deletes_and_lists_replace() -> None:
    current = {"a": {"b": 1, "c": 2}, "l": [1, 2]}
    out = patch.merge_patch(current, {"a": {"b": None, "d": 3}, "l": [3]})
    assert out == {"a": {"c": 2, "d": 3}, "l": [3]}


def test_strategic_merge_uses_upstream_merge_keys() -> None:
    current = pod_spec(
        containers=[
            {
                "name": "a",
                "image": "x",
                "ports": [{"containerPort": 80}],
                "env": [{"name": "A", "value": "1"}],
                "volumeMounts": [{"name": "v", "mountPath": "/data"}],
            }
        ],
        volumes=[{"name": "v", "emptyDir": {}}],
        tolerations=[{"key": "k", "operator": "Exists"}],
    )
    out = patch.apply_patch(
        PODS,
        current,
        patch.STRATEGIC_MERGE_PATCH,
        json.dumps(
            {
                "spec": {
                    "containers": [
                        {
                            "name": "a",
                            "ports": [{"containerPort": 443}],
                            "env": [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}],
                            "volumeMounts": [{"name": "w", "mountPath": "/other"}],
                        }
                    ],
                    "volumes": [{"name": "w", "emptyDir": {}}],
                    "tolerations": [{"key": "other", "operator": "Exists"}],
                }
            }
        ).encode(),
    )
    c = out["spec"]["containers"][0]
    assert c["image"] == "x"
    assert [p["containerPort"] for p in c["ports"]] == [80, 443]
    assert c["env"] == [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}]
    assert [m["mountPath"] for m in c["volumeMounts"]] == ["/data", "/other"]
    assert [v["name"] for v in out["spec"]["volumes"]] == ["v", "w"]
    # tolerations have no merge key upstream: the list is replaced
    assert out["spec"]["tolerations"] == [{"key": "other", "operator": "Exists"}]


def test_service_ports_merge_by_port() -> None:
    svc = lookup("", "v1", "services")
    current = {"spec": {"ports": [{"port": 80, "name": "http"}]}}
    out = patch.apply_patch(
        svc,
        current,
        patch.STRATEGIC_MERGE_PATCH,
        b'{"spec":{"ports":[{"port":80,"targetPort":8080},{"port":443}]}}',
    )
    assert out["spec"]["ports"] == [{"port": 80, "name": "http", "targetPort": 8080}, {"port": 443}]


def test_strategic_merge_directives() -> None:
    current = {
        "metadata": {"finalizers": ["a", "b"], "labels": {"x": "1", "y": "2"}},
        "spec": {
            "containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}],
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
        },
    }
    out = smp(
        current,
        {
            "metadata": {"$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["c"]},
            "spec": {
                "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                "containers": [{"name": "a", "image": "3"}],
                "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
            },
        },
    )
    assert out["metadata"]["finalizers"] == ["b", "c"]
    assert [(c["name"], c["image"]) for c in out["spec"]["containers"]] == [("b", "2"), ("a", "3")]
    assert out["spec"]["strategy"] == {"type": "Recreate"}

    out = smp(current, {"spec": {"containers": [{"name": "b", "$patch": "delete"}]}})
    assert [c["name"] for c in out["spec"]["containers"]] == ["a"]
    out = smp(current, {"spec": {"containers": [{"$patch": "replace"}, {"name": "z"}]}})
    assert out["spec"]["containers"] == [{"name": "z"}]
    out = smp(current, {"metadata": {"labels": {"$patch": "replace", "only": "me"}}})
    assert out["metadata"]["labels"] == {"only": "me"}


def test_json_patch_errors() -> None:
    with pytest.raises(errors.Invalid):
        patch.apply_patch(
            DEPLOY, {"a": 1}, patch.JSON_PATCH, b'[{"op":"test","path":"/a","value":2}]'
        )
    with pytest.raises(errors.BadRequest):
        patch.apply_patch(DEPLOY, {"a": 1}, patch.JSON_PATCH, b"{}")
    with pytest.raises(errors.UnsupportedMediaType):
        patch.apply_patch(DEPLOY, {}, "text/plain", b"")


def _apply(
    current: dict[str, Any], config: dict[str, Any], manager: str, force: bool = False
) -> Any:
    return patch.apply_patch(
        DEPLOY,
        current,
        patch.APPLY_PATCH,
        json.dumps(config).encode(),
        field_manager=manager,
        force=force,
    )


def _deploy(replicas: int | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}},
    }
    if replicas is not None:
        obj["spec"]["replicas"] = replicas
    if labels:
        obj["metadata"]["labels"] = labels
    return obj


def test_server_side_apply_ownership() -> None:
    live = _apply({}, _deploy(replicas=2, labels={"a": "1"}), "alice")
    entry = live["metadata"]["managedFields"][0]
    assert entry["manager"] == "alice" and entry["operation"] == "Apply"
    assert entry["fieldsV1"]["f:metadata"]["f:labels"] == {".": {}, "f:a": {}}
    assert entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"] == {
        'k:{"name":"a"}': {".": {}, "f:name": {}, "f:image": {}}
    }
    # Same value from another manager: shared ownership, no conflict.
    live = _apply(live, _deploy(replicas=2), "bob")
    # A different value: conflict, unless forced.
    with pytest.raises(errors.Conflict) as e:
        _apply(live, _deploy(replicas=3), "bob")
    assert 'conflict with "alice": .spec.replicas' in str(e.value)
    live = _apply(live, _deploy(replicas=3), "bob", force=True)
    assert live["spec"]["replicas"] == 3
    # alice drops her label: removed, since nobody else owns it.
    live = _apply(live, _deploy(), "alice")
    assert "labels" not in live["metadata"]
    assert live["spec"]["replicas"] == 3
    assert live["metadata"]["name"] == "d"


def test_apply_requires_a_field_manager_and_kind() -> None:
    with pytest.raises(errors.BadRequest):
        _apply({}, _deploy(), "")
    with pytest.raises(errors.BadRequest):
        patch.apply_patch(DEPLOY, {}, patch.APPLY_PATCH, b"metadata: {name: d}", field_manager="m")


def test_updates_take_ownership_from_appliers() -> None:
    live = _apply({}, _deploy(replicas=2), "alice")
    scaled = patch.apply_patch(
        DEPLOY, live, patch.MERGE_PATCH, b'{"spec":{"replicas":5}}', field_manager="kubectl-scale"
    )
    managers = {e["manager"]: e for e in scaled["metadata"]["managedFields"]}
    assert managers["kubectl-scale"]["operation"] == "Update"
    assert managers["kubectl-scale"]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in managers["alice"]["fieldsV1"]["f:spec"]
    with pytest.raises(errors.Conflict) as e:
        _apply(scaled, _deploy(replicas=2), "alice")
    assert 'conflict with "kubectl-scale"' in str(e.value)
