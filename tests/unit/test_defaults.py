"""Admitted objects carry upstream's defaults: what `kubectl get -o yaml` shows
for an object created from a short manifest."""

from __future__ import annotations

from typing import Any

import pytest

from apimachinery import defaults, scheme, validation

JSON = dict[str, Any]


def admit(obj: JSON) -> JSON:
    rt = scheme.for_kind(obj["apiVersion"], obj["kind"])
    admitted, _ = validation.admit(rt, obj, operation="CREATE")
    return admitted


CONTAINER_DEFAULTS = {
    "resources": {},
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
}
TEMPLATE_SPEC_DEFAULTS = {
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "schedulerName": "default-scheduler",
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
}


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("localhost:5000/web", "Always"),
        ("localhost:5000/web:v2", "IfNotPresent"),
        ("web@sha256:" + "a" * 64, "IfNotPresent"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    assert defaults.image_pull_policy(image) == policy


def test_pod_defaults() -> None:
    pod = admit(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web"},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "nginx",
                        "ports": [{"containerPort": 80}],
                        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                        "readinessProbe": {"httpGet": {"port": 80}},
                        "env": [
                            {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
                        ],
                    }
                ],
                "volumes": [{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "c"}}],
            },
        }
    )
    spec = pod["spec"]
    assert spec.items() >= {**TEMPLATE_SPEC_DEFAULTS, "enableServiceLinks": True}.items()
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "Always"
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    # A limit without a request requests the limit (pods only, not templates).
    assert c["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert c["readinessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert c["env"][0]["valueFrom"]["fieldRef"] == {
        "fieldPath": "spec.nodeName",
        "apiVersion": "v1",
    }
    assert spec["volumes"] == [
        {"name": "scratch", "emptyDir": {}},
        {"name": "cfg", "configMap": {"name": "c", "defaultMode": 420}},
    ]
    assert pod["status"] == {"phase": "Pending", "qosClass": "Guaranteed"}


def test_host_network_ports_default_host_port() -> None:
    pod = admit(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web"},
            "spec": {
                "hostNetwork": True,
                "containers": [{"name": "web", "image": "x:1", "ports": [{"containerPort": 8080}]}],
            },
        }
    )
    assert pod["spec"]["containers"][0]["ports"][0]["hostPort"] == 8080


def test_quantities_are_stored_canonical() -> None:
    pod = admit(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web"},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "x:1",
                        "resources": {
                            "requests": {"cpu": 0.5, "memory": "1024Mi"},
                            "limits": {"cpu": "1000m", "memory": "1.5Gi"},
                        },
                    }
                ]
            },
        }
    )
    assert pod["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "1", "memory": "1536Mi"},
    }


def test_qos_classes() -> None:
    def qos(resources: JSON) -> str:
        return defaults.qos_class({"containers": [{"name": "a", "resources": resources}]})

    assert qos({}) == "BestEffort"
    assert qos({"requests": {"cpu": "100m"}}) == "Burstable"
    assert qos(
        {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}
    ) == ("Guaranteed")


def test_deployment_defaults() -> None:
    deploy = admit(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
        }
    )
    spec = deploy["spec"]
    assert spec["replicas"] == 1
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    template_spec = spec["template"]["spec"]
    assert template_spec.items() >= TEMPLATE_SPEC_DEFAULTS.items()
    assert "enableServiceLinks" not in template_spec
    assert template_spec["containers"][0] == {
        "name": "web",
        "image": "nginx:1.27",
        "imagePullPolicy": "IfNotPresent",
        **CONTAINER_DEFAULTS,
    }
    assert deploy["status"] == {}


def test_recreate_strategy_has_no_rolling_update() -> None:
    deploy = admit(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
        }
    )
    assert deploy["spec"]["strategy"] == {"type": "Recreate"}


def _template() -> JSON:
    return {
        "metadata": {"labels": {"app": "db"}},
        "spec": {"containers": [{"name": "db", "image": "postgres:16"}]},
    }


def test_replicaset_statefulset_daemonset_defaults() -> None:
    selector = {"matchLabels": {"app": "db"}}
    rs = admit(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "db"},
            "spec": {"selector": selector, "template": _template()},
        }
    )
    assert rs["spec"]["replicas"] == 1
    sts = admit(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {
                "serviceName": "db",
                "selector": selector,
                "template": _template(),
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    }
                ],
            },
        }
    )
    spec = sts["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["kind"] == "PersistentVolumeClaim"
    ds = admit(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent"},
            "spec": {"selector": selector, "template": _template()},
        }
    )
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert ds["spec"]["revisionHistoryLimit"] == 10


def test_service_defaults() -> None:
    svc = admit(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"app": "web"},
                "sessionAffinity": "ClientIP",
                "ports": [
                    {"name": "http", "port": 80},
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"},
                ],
            },
        }
    )
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["ports"][0] == {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}
    assert spec["ports"][1]["targetPort"] == "dns"
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert "externalTrafficPolicy" not in spec
    assert svc["status"] == {"loadBalancer": {}}


def test_secret_string_data_is_merged_into_data() -> None:
    secret = admit(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db"},
            "data": {"user": "YWRtaW4="},
            "stringData": {"password": "s3cret"},
        }
    )
    assert secret["type"] == "Opaque"
    assert secret["data"] == {"user": "YWRtaW4=", "password": "czNjcmV0"}
    assert "stringData" not in secret


def test_namespace_defaults() -> None:
    ns = admit({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ci-env"}})
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}


def test_storage_defaults() -> None:
    pvc = admit(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1024Mi"}},
            },
        }
    )
    assert pvc["spec"]["volumeMode"] == "Filesystem"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert pvc["status"] == {"phase": "Pending"}
    pv = admit(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": "pv1"},
            "spec": {
                "capacity": {"storage": "5Gi"},
                "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": "/data"},
            },
        }
    )
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["hostPath"] == {"path": "/data", "type": ""}


def test_cronjob_and_priority_class_defaults() -> None:
    cj = admit(
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "backup"},
            "spec": {
                "schedule": "0 3 * * *",
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "restartPolicy": "OnFailure",
                                "containers": [{"name": "b", "image": "busybox"}],
                            }
                        }
                    }
                },
            },
        }
    )
    spec = cj["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"]) == ("Allow", False)
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    assert "backoffLimit" not in spec["jobTemplate"]["spec"]
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    pc = admit(
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "high"},
            "value": 1000,
        }
    )
    assert pc["preemptionPolicy"] == "PreemptLowerPriority"


def test_limit_range_defaults_from_max() -> None:
    lr = admit(
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": {"name": "limits"},
            "spec": {
                "limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}}]
            },
        }
    )
    item = lr["spec"]["limits"][0]
    assert item["default"] == {"cpu": "2"}
    assert item["defaultRequest"] == {"cpu": "2", "memory": "64Mi"}


def test_defaults_are_idempotent() -> None:
    deploy = admit(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"app": "db"}},
                "template": _template(),
            },
        }
    )
    assert admit(deploy) == deploy
