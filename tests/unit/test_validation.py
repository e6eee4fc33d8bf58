"""Admission refuses what upstream refuses, with upstream's status, field path
and message: 400 for what cannot be decoded (unknown fields, wrong types, bad
quantities or base64), 422 Invalid with one cause per problem otherwise."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from apimachinery import errors, scheme, validation

JSON = dict[str, Any]

POD = scheme.for_kind("v1", "Pod")
DEPLOY = scheme.for_kind("apps/v1", "Deployment")


def pod(**spec: Any) -> JSON:
    base: JSON = {"containers": [{"name": "web", "image": "nginx:1.27"}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": base}


def deployment(**spec: Any) -> JSON:
    base: JSON = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
        },
    }
    base.update(spec)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": base,
    }


def admit(obj: JSON, **kw: Any) -> tuple[JSON, list[str]]:
    rt = scheme.for_kind(obj.get("apiVersion", "v1"), obj.get("kind", "Pod"))
    kw.setdefault("operation", "CREATE")
    return validation.admit(rt, obj, **kw)


def causes(obj: JSON, **kw: Any) -> list[str]:
    with pytest.raises(errors.Invalid) as e:
        admit(obj, **kw)
    assert e.value.code == 422
    return [f"{c.field}: {c.message}" for c in e.value.causes]


def bad_request(obj: JSON, **kw: Any) -> str:
    with pytest.raises(errors.BadRequest) as e:
        admit(obj, **kw)
    assert e.value.code == 400
    return e.value.message


def with_container(**fields: Any) -> JSON:
    obj = pod()
    obj["spec"]["containers"][0].update(fields)
    return obj


# --- decoding (400) -------------------------------------------------------------


def test_unknown_field_is_a_strict_decoding_error_naming_the_full_path() -> None:
    obj = with_container(imagePullPolic="Always")
    assert bad_request(obj) == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.containers[0].imagePullPolic"'
    )


def test_several_unknown_fields_are_all_named() -> None:
    obj = pod(foo=1)
    obj["metadata"]["bar"] = 2
    message = bad_request(obj)
    assert 'unknown field "metadata.bar"' in message
    assert 'unknown field "spec.foo"' in message


def test_unknown_field_in_a_deployment_template() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["foo"] = "x"
    assert bad_request(obj) == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding '
        'error: unknown field "spec.template.spec.containers[0].foo"'
    )


def test_warn_drops_unknown_fields_with_a_warning() -> None:
    obj = pod(foo=1)
    admitted, warnings = admit(obj, field_validation="Warn")
    assert warnings == ['unknown field "spec.foo"']
    assert "foo" not in admitted["spec"]


def test_ignore_drops_unknown_fields_silently() -> None:
    obj = with_container(foo=1)
    admitted, warnings = admit(obj, field_validation="Ignore")
    assert warnings == []
    assert "foo" not in admitted["spec"]["containers"][0]


def test_bad_field_validation_directive() -> None:
    assert "fieldValidation" in bad_request(pod(), field_validation="Loose")


def test_wrong_type_is_400() -> None:
    obj = with_container(ports=[{"containerPort": "80"}])
    assert bad_request(obj) == (
        'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into '
        "Go struct field ContainerPort.spec.containers.ports.containerPort of type int32"
    )


def test_label_value_must_be_a_string() -> None:
    obj = pod()
    obj["metadata"]["labels"] = {"version": 2}
    assert "Go struct field ObjectMeta.metadata.labels of type string" in bad_request(obj)


def test_bad_quantity_is_400_with_upstreams_regex() -> None:
    obj = with_container(resources={"limits": {"memory": "128MB"}})
    assert bad_request(obj) == (
        'Pod in version "v1" cannot be handled as a Pod: quantities must match the regular '
        "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


def test_secret_data_must_be_base64() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"password": "not base64!"},
    }
    assert bad_request(secret) == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3'
    )


def test_kind_and_version_must_match_the_endpoint() -> None:
    obj = pod()
    obj["apiVersion"] = "v2"
    with pytest.raises(errors.BadRequest, match=r"does not match the expected API version \(v1\)"):
        validation.admit(POD, obj, operation="CREATE")
    with pytest.raises(errors.BadRequest, match="does not match the expected kind"):
        validation.admit(POD, deployment() | {"apiVersion": "v1"}, operation="CREATE")


def test_missing_apiversion_and_kind_default_to_the_endpoints() -> None:
    obj = pod()
    del obj["apiVersion"], obj["kind"]
    admitted, _ = validation.admit(POD, obj, operation="CREATE")
    assert (admitted["apiVersion"], admitted["kind"]) == ("v1", "Pod")


def test_kind_without_a_model_is_admitted_as_is() -> None:
    rt = scheme.ResourceType("example.com", "v1", "widgets", "Widget", True)
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "x": 1}
    admitted, _ = validation.admit(rt, obj, operation="CREATE")
    assert admitted == obj


def test_nulls_are_dropped() -> None:
    obj = pod(nodeSelector=None)
    obj["metadata"]["labels"] = None
    admitted, _ = admit(obj)
    assert "nodeSelector" not in admitted["spec"]
    assert "labels" not in admitted["metadata"]


# --- metadata (422) -------------------------------------------------------------

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
    "[a-z0-9])?)*')"
)


def test_bad_name_message_is_upstreams() -> None:
    obj = pod()
    obj["metadata"]["name"] = "Web_1"
    with pytest.raises(errors.Invalid) as e:
        admit(obj)
    assert (
        e.value.message
        == f'Pod "Web_1" is invalid: metadata.name: Invalid value: "Web_1": {SUBDOMAIN_MSG}'
    )
    assert e.value.to_status()["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "Web_1": {SUBDOMAIN_MSG}',
            "field": "metadata.name",
        }
    ]


def test_name_or_generate_name_is_required() -> None:
    obj = pod()
    del obj["metadata"]["name"]
    assert causes(obj) == ["metadata.name: Required value: name or generateName is required"]
    obj["metadata"]["generateName"] = "web-"
    admit(obj)


def test_service_names_are_dns1035_labels() -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "1web"},
        "spec": {"ports": [{"port": 80}]},
    }
    (cause,) = causes(svc)
    assert cause.startswith('metadata.name: Invalid value: "1web": a DNS-1035 label must consist')


def test_namespace_names_are_dns1123_labels() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}}
    (cause,) = causes(ns)
    assert cause.startswith('metadata.name: Invalid value: "a.b": a lowercase RFC 1123 label')


def test_label_key_and_value() -> None:
    obj = pod()
    obj["metadata"]["labels"] = {"bad key": "ok", "ok": "x" * 64}
    found = causes(obj)
    assert found[0].startswith('metadata.labels: Invalid value: "bad key": name part must consist')
    assert found[1] == (
        f'metadata.labels: Invalid value: "{"x" * 64}": must be no more than 63 characters'
    )


def test_annotations_total_size() -> None:
    obj = pod()
    obj["metadata"]["annotations"] = {"big": "x" * (256 * 1024)}
    assert causes(obj) == ["metadata.annotations: Too long: must have at most 262144 bytes"]


def test_owner_references_need_uid_and_one_controller() -> None:
    obj = pod()
    ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "controller": True}
    obj["metadata"]["ownerReferences"] = [ref, {**ref, "uid": "u2", "name": "s"}]
    found = causes(obj)
    assert found[0] == 'metadata.ownerReferences.uid: Invalid value: "": uid must not be empty'
    assert "Only one reference can have Controller set to true" in found[1]


def test_cluster_scoped_objects_lose_their_namespace() -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "namespace": "x"}}
    admitted, _ = admit(node)
    assert "namespace" not in admitted["metadata"]


# --- pods (422) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: pod(containers=[]), "spec.containers: Required value"),
        (lambda: with_container(image=""), "spec.containers[0].image: Required value"),
        (
            lambda: pod(containers=[{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]),
            'spec.containers[1].name: Duplicate value: "a"',
        ),
        (
            lambda: with_container(imagePullPolicy="Sometimes"),
            'spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported '
            'values: "Always", "IfNotPresent", "Never"',
        ),
        (
            lambda: with_container(ports=[{"containerPort": 70000}]),
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between "
            "1 and 65535, inclusive",
        ),
        (
            lambda: with_container(ports=[{"containerPort": 80, "protocol": "HTTP"}]),
            'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: '
            '"SCTP", "TCP", "UDP"',
        ),
        (
            lambda: with_container(ports=[{"containerPort": 80, "name": "a-very-long-port-name"}]),
            'spec.containers[0].ports[0].name: Invalid value: "a-very-long-port-name": must be '
            "no more than 15 characters",
        ),
        (
            lambda: with_container(env=[{"value": "x"}]),
            "spec.containers[0].env[0].name: Required value",
        ),
        (
            lambda: with_container(
                env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.foo"}}}]
            ),
            "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "
            '"spec.foo": supported values:',
        ),
        (
            lambda: with_container(
                env=[{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm"}}}]
            ),
            "spec.containers[0].env[0].valueFrom.configMapKeyRef.key: Required value",
        ),
        (
            lambda: with_container(resources={"requests": {"cpu": "-1"}}),
            'spec.containers[0].resources.requests[cpu]: Invalid value: "-1": must be greater '
            "than or equal to 0",
        ),
        (
            lambda: with_container(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}),
            'spec.containers[0].resources.requests[cpu]: Invalid value: "2": must be less than '
            "or equal to cpu limit of 1",
        ),
        (
            lambda: with_container(resources={"limits": {"gpu": "1"}}),
            'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard '
            "resource type or fully qualified",
        ),
        (
            lambda: with_container(resources={"limits": {"gpu": "1"}}),
            'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard '
            "resource for containers",
        ),
        (
            lambda: with_container(volumeMounts=[{"name": "data", "mountPath": "/data"}]),
            'spec.containers[0].volumeMounts[0].name: Not found: "data"',
        ),
        (
            lambda: with_container(livenessProbe={"periodSeconds": 5}),
            "spec.containers[0].livenessProbe: Required value: must specify a handler type",
        ),
        (
            lambda: with_container(
                livenessProbe={"tcpSocket": {"port": 80}, "successThreshold": 2}
            ),
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
        ),
        (
            lambda: pod(restartPolicy="Sometimes"),
            'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", '
            '"OnFailure", "Never"',
        ),
        (
            lambda: pod(dnsPolicy="None"),
            "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None",
        ),
        (
            lambda: pod(volumes=[{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}]),
            'spec.volumes[1].name: Duplicate value: "a"',
        ),
        (
            lambda: pod(volumes=[{"name": "a", "emptyDir": {}, "hostPath": {"path": "/x"}}]),
            "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
        ),
        (
            lambda: pod(volumes=[{"name": "a", "configMap": {}}]),
            "spec.volumes[0].configMap.name: Required value",
        ),
        (
            lambda: pod(volumes=[{"name": "a", "secret": {"secretName": "s", "defaultMode": 512}}]),
            "spec.volumes[0].secret.defaultMode: Invalid value: 512: must be a number between 0 "
            "and 0777 (octal), both inclusive",
        ),
        (
            lambda: pod(subdomain="a.b"),
            'spec.subdomain: Invalid value: "a.b": a lowercase RFC 1123 label must consist',
        ),
        (
            lambda: pod(tolerations=[{"key": "k", "operator": "Exists", "value": "v"}]),
            'spec.tolerations[0].operator: Invalid value: "v": value must be empty when '
            "`operator` is 'Exists'",
        ),
        (
            lambda: pod(tolerations=[{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]),
            'spec.tolerations[0].effect: Invalid value: "NoSchedule": effect must be '
            "'NoExecute' when `tolerationSeconds` is set",
        ),
        (
            lambda: pod(
                affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}}
            ),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
            "nodeSelectorTerms: Required value: must have at least one node selector term",
        ),
        (
            lambda: pod(
                affinity={
                    "podAntiAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": [
                            {"labelSelector": {"matchLabels": {"app": "web"}}}
                        ]
                    }
                }
            ),
            "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]."
            "topologyKey: Required value: can not be empty",
        ),
        (
            lambda: pod(
                topologySpreadConstraints=[
                    {"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}
                ]
            ),
            "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: "
            "must be greater than zero",
        ),
        (
            lambda: pod(
                initContainers=[
                    {"name": "init", "image": "x", "readinessProbe": {"exec": {"command": ["a"]}}}
                ]
            ),
            "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init "
            "containers without restartPolicy=Always",
        ),
    ],
)
def test_pod_validation(make: Callable[[], JSON], expected: str) -> None:
    found = causes(make())
    assert any(c.startswith(expected) for c in found), found


def test_all_problems_are_reported_at_once() -> None:
    obj = pod(containers=[{"name": "Web", "image": ""}], restartPolicy="Sometimes")
    obj["metadata"]["name"] = "Bad"
    with pytest.raises(errors.Invalid) as e:
        admit(obj)
    fields = [c.field for c in e.value.causes]
    assert fields == [
        "metadata.name",
        "spec.containers[0].name",
        "spec.containers[0].image",
        "spec.restartPolicy",
    ]
    assert e.value.message.startswith('Pod "Bad" is invalid: [metadata.name: Invalid value')


def test_full_pod_spec_is_accepted() -> None:
    obj = pod(
        initContainers=[{"name": "init", "image": "busybox", "command": ["sh", "-c", "true"]}],
        containers=[
            {
                "name": "web",
                "image": "web:v1",
                "command": ["/app"],
                "args": ["--port", "8080"],
                "workingDir": "/srv",
                "stdin": True,
                "tty": True,
                "env": [
                    {"name": "A", "value": "1"},
                    {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
                    {"name": "C", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                    {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {
                        "name": "E",
                        "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}},
                    },
                    {
                        "name": "F",
                        "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}},
                    },
                ],
                "envFrom": [
                    {"configMapRef": {"name": "c"}},
                    {"prefix": "S_", "secretRef": {"name": "s"}},
                ],
                "ports": [{"containerPort": 8080, "name": "http"}],
                "resources": {"requests": {"cpu": 0.25, "memory": "64Mi"}, "limits": {"cpu": 1}},
                "volumeMounts": [
                    {"name": "data", "mountPath": "/data"},
                    {"name": "cfg", "mountPath": "/etc/cfg", "readOnly": True},
                ],
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                "readinessProbe": {"tcpSocket": {"port": 8080}, "initialDelaySeconds": 1},
                "startupProbe": {"exec": {"command": ["true"]}, "failureThreshold": 30},
                "lifecycle": {"preStop": {"exec": {"command": ["sleep", "1"]}}},
                "securityContext": {
                    "runAsUser": 1000,
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                    "readOnlyRootFilesystem": True,
                },
            }
        ],
        volumes=[
            {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "cfg", "configMap": {"name": "c", "items": [{"key": "k", "path": "k.conf"}]}},
            {"name": "sec", "secret": {"secretName": "s"}},
            {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}},
            {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}},
            {
                "name": "proj",
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"path": "token"}},
                        {"configMap": {"name": "c"}},
                    ]
                },
            },
            {
                "name": "info",
                "downwardAPI": {
                    "items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]
                },
            },
        ],
        nodeSelector={"kubernetes.io/os": "linux"},
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                    ]
                },
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 10,
                        "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]},
                    }
                ],
            },
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": {"app": "web"}},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            },
        },
        tolerations=[
            {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
            {"operator": "Exists"},
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 3,
            },
        ],
        priorityClassName="high",
        priority=1000,
        serviceAccountName="web",
        restartPolicy="OnFailure",
        terminationGracePeriodSeconds=5,
        dnsPolicy="ClusterFirstWithHostNet",
        hostname="web-0",
        subdomain="web",
        schedulerName="default-scheduler",
        topologySpreadConstraints=[
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app": "web"}},
            }
        ],
        securityContext={"fsGroup": 2000, "runAsNonRoot": True},
    )
    admitted, warnings = admit(obj)
    assert warnings == []
    container = admitted["spec"]["containers"][0]
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "64Mi"},
        "limits": {"cpu": "1"},
    }
    assert container["livenessProbe"]["httpGet"]["scheme"] == "HTTP"
    assert admitted["status"] == {"phase": "Pending", "qosClass": "Burstable"}


# --- workloads and others (422) -------------------------------------------------


def test_deployment_selector_must_match_template_labels() -> None:
    obj = deployment(selector={"matchLabels": {"app": "db"}})
    assert causes(obj) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
        "`selector` does not match template `labels`"
    ]


def test_deployment_selector_is_required_and_not_empty() -> None:
    obj = deployment()
    del obj["spec"]["selector"]
    assert causes(obj) == ["spec.selector: Required value"]
    obj = deployment(selector={})
    assert causes(obj) == [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for "
        "deployment"
    ]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"replicas": -1}, "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
        (
            {"strategy": {"type": "Blue"}},
            'spec.strategy.type: Unsupported value: "Blue": supported values: "Recreate", '
            '"RollingUpdate"',
        ),
        (
            {"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}},
            "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` "
            "is 'Recreate'",
        ),
        (
            {"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}},
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when "
            "`maxSurge` is 0",
        ),
        (
            {"strategy": {"rollingUpdate": {"maxSurge": "lots"}}},
            'spec.strategy.rollingUpdate.maxSurge: Invalid value: "lots": a valid percent string '
            "must be a numeric string followed by an ending '%'",
        ),
        (
            {"progressDeadlineSeconds": 5, "minReadySeconds": 10},
            "spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds",
        ),
    ],
)
def test_deployment_validation(spec: JSON, expected: str) -> None:
    found = causes(deployment(**spec))
    assert any(c.startswith(expected) for c in found), found


def test_deployment_template_must_restart_always() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert causes(obj) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'
    ]


def _job(restart: str | None = "Never") -> JSON:
    spec: JSON = {"containers": [{"name": "pi", "image": "perl"}]}
    if restart:
        spec["restartPolicy"] = restart
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi"},
        "spec": {"template": {"spec": spec}},
    }


def test_job_restart_policy_is_required() -> None:
    assert causes(_job(None)) == [
        'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'
    ]
    assert causes(_job("Always"))[0].startswith(
        'spec.template.spec.restartPolicy: Unsupported value: "Always"'
    )


def test_job_gets_a_generated_selector_and_defaults() -> None:
    admitted, _ = admit(_job())
    uid = admitted["metadata"]["uid"]
    assert admitted["spec"]["selector"] == {
        "matchLabels": {"batch.kubernetes.io/controller-uid": uid}
    }
    labels = admitted["spec"]["template"]["metadata"]["labels"]
    assert labels["batch.kubernetes.io/job-name"] == "pi"
    assert labels["controller-uid"] == uid
    spec = admitted["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed"


def test_job_keeps_an_existing_uid() -> None:
    obj = _job()
    obj["metadata"]["uid"] = "1234"
    admitted, _ = admit(obj)
    assert admitted["spec"]["selector"]["matchLabels"] == {
        "batch.kubernetes.io/controller-uid": "1234"
    }


def test_cronjob_schedule() -> None:
    cj: JSON = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "backup"},
        "spec": {"schedule": "61 * * * *", "jobTemplate": {"spec": _job()["spec"]}},
    }
    assert causes(cj) == [
        'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61'
    ]
    cj["spec"]["schedule"] = "*/5 * * * *"
    admitted, _ = admit(cj)
    assert admitted["spec"]["concurrencyPolicy"] == "Allow"
    assert admitted["spec"]["successfulJobsHistoryLimit"] == 3
    del cj["spec"]["schedule"]
    assert causes(cj) == ["spec.schedule: Required value"]


def _service(**spec: Any) -> JSON:
    base: JSON = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": base}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"ports": []}, "spec.ports: Required value"),
        (
            {"ports": [{"port": 80}, {"port": 81}]},
            "spec.ports[0].name: Required value",
        ),
        (
            {"ports": [{"port": 0}]},
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        ),
        (
            {"type": "Magic"},
            'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", '
            '"ExternalName", "LoadBalancer", "NodePort"',
        ),
        (
            {"ports": [{"port": 80, "nodePort": 30080}]},
            "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
        ),
        ({"type": "ExternalName", "ports": []}, "spec.externalName: Required value"),
        (
            {"clusterIP": "10.96.0.300"},
            'spec.clusterIP: Invalid value: "10.96.0.300": must be a valid IP address',
        ),
    ],
)
def test_service_validation(spec: JSON, expected: str) -> None:
    found = causes(_service(**spec))
    assert any(c.startswith(expected) for c in found), found


def test_configmap_keys_and_size() -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"bad key": "x"},
    }
    (cause,) = causes(cm)
    assert cause.startswith(
        'data[bad key]: Invalid value: "bad key": a valid config key must consist of '
        "alphanumeric characters, '-', '_' or '.'"
    )
    cm["data"] = {"big": "x" * (1024 * 1024 + 1)}
    assert causes(cm) == ["[]: Too long: must have at most 1048576 bytes"]


def test_tls_secret_needs_its_keys() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tls"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "Y2VydA=="},
    }
    assert causes(secret) == ["data[tls.key]: Required value"]


def test_node_taints() -> None:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1"},
        "spec": {"taints": [{"key": "dedicated", "effect": "Sometimes"}, {"key": "x"}]},
    }
    assert causes(node) == [
        'spec.taints[0].effect: Unsupported value: "Sometimes": supported values: '
        '"NoSchedule", "PreferNoSchedule", "NoExecute"',
        "spec.taints[1].effect: Required value",
    ]


def test_ingress_paths() -> None:
    ing = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web"},
        "spec": {
            "rules": [
                {
                    "host": "web.example.com",
                    "http": {
                        "paths": [
                            {"path": "/", "backend": {"service": {"name": "web", "port": {}}}},
                            {
                                "path": "api",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "api", "port": {"number": 80}}},
                            },
                        ]
                    },
                }
            ]
        },
    }
    assert causes(ing) == [
        "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
        "spec.rules[0].http.paths[0].backend.service.port: Required value: port name or number "
        "is required",
        'spec.rules[0].http.paths[1].path: Invalid value: "api": must be an absolute path',
    ]


def test_lease_and_priority_class() -> None:
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "n1", "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 0},
    }
    assert causes(lease) == ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
    pc = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "huge"},
        "value": 2_000_000_000,
    }
    assert causes(pc) == [
        "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
    ]


def test_pvc_and_pv() -> None:
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"resources": {"requests": {}}},
    }
    assert causes(pvc) == [
        "spec.accessModes: Required value: at least 1 access mode is required",
        "spec.resources[storage]: Required value",
    ]
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "pv1"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "local": {"path": "/mnt/disk"},
        },
    }
    assert causes(pv) == ["spec.nodeAffinity: Required value: Local volume requires node affinity"]


# --- updates: immutable fields and subresources ---------------------------------


def _stored(obj: JSON) -> JSON:
    admitted, _ = admit(obj)
    admitted["metadata"].update(uid="u1", resourceVersion="5")
    return admitted


def test_deployment_selector_is_immutable() -> None:
    old = _stored(deployment())
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "db"}}
    new["spec"]["template"]["metadata"]["labels"] = {"app": "db"}
    assert causes(new, operation="UPDATE", old=old) == [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string"
        '{"app":"db"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable'
    ]


def test_pod_update_may_change_images_only() -> None:
    old = _stored(pod())
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.28"
    new["spec"]["activeDeadlineSeconds"] = 30
    admitted, _ = admit(new, operation="UPDATE", old=old)
    assert admitted["spec"]["containers"][0]["image"] == "nginx:1.28"
    new["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
    (cause,) = causes(new, operation="UPDATE", old=old)
    assert cause.startswith(
        "spec: Forbidden: pod updates may not change fields other than "
        "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`"
    )


def test_pod_tolerations_may_only_be_added() -> None:
    old = _stored(pod(tolerations=[{"key": "a", "operator": "Exists"}]))
    new = copy.deepcopy(old)
    new["spec"]["tolerations"].append({"key": "b", "operator": "Exists"})
    admit(new, operation="UPDATE", old=old)
    new["spec"]["tolerations"] = [{"key": "b", "operator": "Exists"}]
    assert causes(new, operation="UPDATE", old=old) == [
        "spec.tolerations: Forbidden: existing toleration can not be modified except its "
        "tolerationSeconds"
    ]


def test_service_cluster_ip_is_immutable_and_kept_when_omitted() -> None:
    old = _stored(_service())
    old["spec"]["clusterIP"] = "10.96.0.20"
    old["spec"]["clusterIPs"] = ["10.96.0.20"]
    new = copy.deepcopy(old)
    del new["spec"]["clusterIP"], new["spec"]["clusterIPs"]
    admitted, _ = admit(new, operation="UPDATE", old=old)
    assert admitted["spec"]["clusterIP"] == "10.96.0.20"
    new["spec"]["clusterIP"] = "10.96.0.21"
    assert 'spec.clusterIP: Invalid value: "10.96.0.21": field is immutable' in causes(
        new, operation="UPDATE", old=old
    )


def test_immutable_configmap_and_secret() -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "1"},
        "immutable": True,
    }
    old = _stored(cm)
    new = copy.deepcopy(old)
    new["data"]["a"] = "2"
    assert causes(new, operation="UPDATE", old=old) == [
        "data: Forbidden: field is immutable when `immutable` is set"
    ]
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    old = _stored(secret)
    new = copy.deepcopy(old)
    new["type"] = "kubernetes.io/basic-auth"
    new["stringData"] = {"username": "u"}
    assert 'type: Invalid value: "kubernetes.io/basic-auth": field is immutable' in causes(
        new, operation="UPDATE", old=old
    )


def test_job_template_is_immutable() -> None:
    old = _stored(_job())
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:5"
    assert "spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable" in causes(
        new, operation="UPDATE", old=old
    )


def test_name_is_immutable() -> None:
    old = _stored(pod())
    new = copy.deepcopy(old)
    new["metadata"]["uid"] = "other"
    assert causes(new, operation="UPDATE", old=old) == [
        'metadata.uid: Invalid value: "other": field is immutable'
    ]


def test_main_resource_update_keeps_the_stored_status() -> None:
    old = _stored(deployment())
    old["status"] = {"replicas": 3}
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 99}
    new["spec"]["replicas"] = 5
    admitted, _ = admit(new, operation="UPDATE", old=old)
    assert admitted["status"] == {"replicas": 3}
    assert admitted["spec"]["replicas"] == 5


def test_status_update_changes_only_the_status() -> None:
    old = _stored(pod())
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "evil"
    new["status"] = {"phase": "Running", "podIP": "10.112.0.7"}
    new["metadata"]["labels"] = {"seen": "yes"}
    new["metadata"]["resourceVersion"] = "6"
    admitted, _ = admit(new, operation="UPDATE", old=old, subresource="status")
    assert admitted["spec"] == old["spec"]
    assert admitted["status"] == {"phase": "Running", "podIP": "10.112.0.7"}
    assert admitted["metadata"]["labels"] == {"seen": "yes"}
    assert admitted["metadata"]["resourceVersion"] == "6"
    new["status"] = {"phase": "Sleeping"}
    assert causes(new, operation="UPDATE", old=old, subresource="status") == [
        'status.phase: Unsupported value: "Sleeping": supported values: "Pending", "Running", '
        '"Succeeded", "Failed", "Unknown"'
    ]


def test_scale_subresource() -> None:
    old = _stored(deployment())
    scale: JSON = {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "web", "resourceVersion": "5"},
        "spec": {"replicas": 4},
    }
    admitted, _ = validation.admit(DEPLOY, scale, operation="UPDATE", old=old, subresource="scale")
    assert admitted["spec"]["replicas"] == 4
    assert admitted["spec"]["template"] == old["spec"]["template"]
    scale["spec"]["replicas"] = -1
    with pytest.raises(errors.Invalid) as e:
        validation.admit(DEPLOY, scale, operation="UPDATE", old=old, subresource="scale")
    assert e.value.message == (
        'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be greater '
        "than or equal to 0"
    )


def test_create_resets_status() -> None:
    obj = deployment()
    obj["status"] = {"replicas": 7}
    admitted, _ = admit(obj)
    assert admitted["status"] == {}
    p = pod()
    p["status"] = {"phase": "Running"}
    admitted, _ = admit(p)
    assert admitted["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ([], "Go struct field Pod.spec of type v1.PodSpec"),
        ({"containers": {}}, "Go struct field PodSpec.spec.containers of type []v1.Container"),
        (
            {"containers": [{"name": "a", "image": "x", "command": "ls"}]},
            "unmarshal string into Go struct field Container.spec.containers.command of type "
            "[]string",
        ),
        (
            {"nodeSelector": ["a"], "containers": []},
            "Go struct field PodSpec.spec.nodeSelector of type map[string]string",
        ),
    ],
)
def test_wrong_types_name_upstreams_go_types(spec: Any, expected: str) -> None:
    obj = pod()
    obj["spec"] = spec
    assert expected in bad_request(obj)
