"""Table columns and cells as `kubectl get` shows them (upstream's printers)."""

from __future__ import annotations

from typing import Any

from apimachinery import printers


def cells(group: str, resource: str, obj: dict[str, Any], wide: bool = False) -> dict[str, Any]:
    table = printers.table(group, resource, [obj])
    columns = table["columnDefinitions"]
    row = table["rows"][0]["cells"]
    return {c["name"]: v for c, v in zip(columns, row, strict=True) if wide or c["priority"] == 0}


def test_human_durations() -> None:
    assert printers.human_duration(5) == "5s"
    assert printers.human_duration(150) == "2m30s"
    assert printers.human_duration(15 * 60) == "15m"
    assert printers.human_duration(5 * 3600 + 120) == "5h2m"
    assert printers.human_duration(30 * 3600) == "30h"
    assert printers.human_duration(3 * 86400 + 3600) == "3d1h"
    assert printers.human_duration(400 * 86400) == "400d"


def test_pod_columns_and_statuses() -> None:
    pod: dict[str, Any] = {
        "metadata": {"name": "web", "creationTimestamp": "2020-01-01T00:00:00Z"},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
        "status": {
            "phase": "Running",
            "podIP": "10.112.0.5",
            "containerStatuses": [
                {"name": "a", "ready": True, "restartCount": 0, "state": {"running": {}}},
                {
                    "name": "b",
                    "ready": False,
                    "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                },
            ],
        },
    }
    row = cells("", "pods", pod, wide=True)
    assert row["Name"] == "web" and row["Ready"] == "1/2"
    assert row["Status"] == "CrashLoopBackOff" and row["Restarts"] == "3"
    assert row["IP"] == "10.112.0.5" and row["Node"] == "n1"
    pending = {"metadata": {"name": "p"}, "spec": {"containers": [{}]}, "status": {}}
    assert cells("", "pods", pending)["Status"] == "Pending"
    init = {
        "metadata": {"name": "i"},
        "spec": {"initContainers": [{}, {}], "containers": [{}]},
        "status": {"phase": "Pending", "initContainerStatuses": [{"state": {"running": {}}}]},
    }
    assert cells("", "pods", init)["Status"] == "Init:0/2"
    deleting = {**pending, "metadata": {"name": "p", "deletionTimestamp": "2020-01-01T00:00:00Z"}}
    assert cells("", "pods", deleting)["Status"] == "Terminating"


def test_workload_service_and_node_columns() -> None:
    deploy = {
        "metadata": {"name": "d"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "d"}}},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert list(cells("apps", "deployments", deploy).values())[:4] == ["d", "2/3", 3, 2]
    svc = {
        "metadata": {"name": "s"},
        "spec": {
            "type": "LoadBalancer",
            "clusterIP": "10.96.0.9",
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
        },
    }
    row = cells("", "services", svc)
    assert [row["Type"], row["Cluster-IP"], row["External-IP"], row["Port(s)"]] == [
        "LoadBalancer",
        "10.96.0.9",
        "<pending>",
        "80:30080/TCP",
    ]
    node = {
        "metadata": {"name": "n", "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": "v1.32.0-kubelab"},
        },
    }
    row = cells("", "nodes", node)
    assert row["Status"] == "Ready,SchedulingDisabled" and row["Roles"] == "control-plane"
    assert row["Version"] == "v1.32.0-kubelab"


def test_unknown_kinds_get_name_and_age() -> None:
    table = printers.table("example.com", "widgets", [{"metadata": {"name": "w"}}])
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert table["rows"][0]["cells"] == ["w", "<unknown>"]
