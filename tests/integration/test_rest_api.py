"""The Kubernetes REST API at the HTTP level, against a real etcd + apiserver:
authentication, discovery, OpenAPI, CRUD with upstream's Status errors,
watch streams, the four patch types and server-side Tables."""

from __future__ import annotations

import json
import ssl
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from apiserver import pki
from tests.integration.rest_fixtures import Rest, rest

pytestmark = pytest.mark.etcd
__all__ = ["rest"]

NS = "/api/v1/namespaces/default"


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }


# --- authentication and authorization ----------------------------------------------


def test_unauthenticated_requests_get_401_status(rest: Rest) -> None:
    status, body, _ = rest.call("GET", f"{NS}/pods", token=None)
    assert status == 401
    assert body["kind"] == "Status" and body["reason"] == "Unauthorized" and body["code"] == 401
    status, _, _ = rest.call("GET", f"{NS}/pods", token="not-a-token")
    assert status == 401


def test_version_is_public(rest: Rest) -> None:
    status, body, _ = rest.call("GET", "/version", token=None)
    assert status == 200
    assert body["major"] == "1" and body["gitVersion"].startswith("v1.")


def test_client_certificates_signed_by_the_ca_authenticate(rest: Rest, tmp_path: Path) -> None:
    ca_cert = x509.load_pem_x509_certificate(rest.ca_file.read_bytes())
    ca_key = serialization.load_pem_private_key(
        (rest.proc.cert_dir / "ca.key").read_bytes(), password=None
    )
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)

    def cert_files(name: str, groups: tuple[str, ...]) -> tuple[Path, Path]:
        cert_pem, key_pem = pki.issue(ca_cert, ca_key, common_name=name, organizations=groups)
        (tmp_path / f"{name}.crt").write_bytes(cert_pem)
        (tmp_path / f"{name}.key").write_bytes(key_pem)
        return tmp_path / f"{name}.crt", tmp_path / f"{name}.key"

    admin = cert_files("alice", ("system:masters",))
    status, _, _ = rest.call("GET", f"{NS}/configmaps", token=None, cert=admin)
    assert status == 200
    bob = cert_files("bob", ())
    status, body, _ = rest.call("GET", f"{NS}/configmaps", token=None, cert=bob)
    assert status == 403
    assert body["reason"] == "Forbidden"
    assert 'User "bob" cannot list resource "configmaps"' in body["message"]


def test_impersonation_and_self_subject_access_review(rest: Rest) -> None:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "x"}},
    }
    path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    status, body, _ = rest.call("POST", path, review)
    assert status == 201 and body["status"]["allowed"] is True
    as_toto = {"Impersonate-User": "toto@test.com"}
    status, body, _ = rest.call("POST", path, review, headers=as_toto)
    assert status == 201 and body["status"]["allowed"] is False
    status, body, _ = rest.call("GET", f"{NS}/pods", headers=as_toto)
    assert status == 403
    assert body["message"] == (
        'pods is forbidden: User "toto@test.com" cannot list resource "pods" in API group "" '
        'in the namespace "default"'
    )


# --- discovery and OpenAPI ------------------------------------------------------


def test_discovery_documents(rest: Rest) -> None:
    status, body, _ = rest.call("GET", "/api")
    assert status == 200 and body["versions"] == ["v1"]
    _, core, _ = rest.call("GET", "/api/v1")
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["pods"]["shortNames"] == ["po"] and by_name["pods"]["namespaced"] is True
    assert "pods/log" in by_name and "pods/status" in by_name
    assert by_name["namespaces"]["namespaced"] is False
    assert "watch" in by_name["configmaps"]["verbs"]
    _, groups, _ = rest.call("GET", "/apis")
    names = {g["name"] for g in groups["groups"]}
    assert {"apps", "batch", "coordination.k8s.io"} <= names
    _, apps, _ = rest.call("GET", "/apis/apps/v1")
    apps_by_name = {r["name"]: r for r in apps["resources"]}
    assert apps_by_name["deployments"]["shortNames"] == ["deploy"]
    assert apps_by_name["deployments/scale"]["kind"] == "Scale"
    status, body, _ = rest.call("GET", "/apis/nothing.example.com/v1")
    assert status == 404 and body["reason"] == "NotFound"


def test_openapi_v3_declares_field_validation_and_schemas(rest: Rest) -> None:
    _, root, _ = rest.call("GET", "/openapi/v3")
    assert "api/v1" in root["paths"] and "apis/apps/v1" in root["paths"]
    _, doc, _ = rest.call("GET", root["paths"]["apis/apps/v1"]["serverRelativeURL"])
    item = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    schemas = doc["components"]["schemas"]
    gvks = [s.get("x-kubernetes-group-version-kind") for s in schemas.values()]
    assert [{"group": "apps", "version": "v1", "kind": "Deployment"}] in gvks
    containers = schemas["PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    status, v2, _ = rest.call("GET", "/openapi/v2")
    assert status == 200 and v2["swagger"] == "2.0" and v2["definitions"]


# --- CRUD and errors --------------------------------------------------------------


def test_create_get_replace_delete_with_status_codes(rest: Rest) -> None:
    status, created, _ = rest.call("POST", f"{NS}/configmaps", cm("crud", a="1"))
    assert status == 201
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    status, body, _ = rest.call("POST", f"{NS}/configmaps", cm("crud", a="1"))
    assert status == 409 and body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "crud" already exists'
    assert body["details"] == {"name": "crud", "kind": "configmaps"}

    status, got, _ = rest.call("GET", f"{NS}/configmaps/crud")
    assert status == 200 and got["data"] == {"a": "1"}
    newer = {**got, "data": {"a": "2"}}
    status, updated, _ = rest.call("PUT", f"{NS}/configmaps/crud", newer)
    assert status == 200 and updated["data"] == {"a": "2"}
    stale = {**got, "data": {"a": "3"}}
    status, body, _ = rest.call("PUT", f"{NS}/configmaps/crud", stale)
    assert status == 409 and body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]

    status, body, _ = rest.call("DELETE", f"{NS}/configmaps/crud")
    assert status == 200
    status, body, _ = rest.call("GET", f"{NS}/configmaps/crud")
    assert status == 404 and body["reason"] == "NotFound"
    assert body["message"] == 'configmaps "crud" not found'


def test_bad_requests(rest: Rest) -> None:
    status, body, _ = rest.call("POST", f"{NS}/configmaps", raw=b"{not json")
    assert status == 400 and body["reason"] == "BadRequest"
    other_ns = cm("wrong-ns")
    other_ns["metadata"]["namespace"] = "kube-system"
    status, body, _ = rest.call("POST", f"{NS}/configmaps", other_ns)
    assert status == 400
    assert "does not match the namespace" in body["message"]
    status, body, _ = rest.call("PUT", f"{NS}/configmaps/a", cm("b"))
    assert status == 400 and "does not match the name" in body["message"]
    status, body, _ = rest.call("GET", "/api/v1/nothings")
    assert status == 404


def test_invalid_objects_are_422_with_field_causes(rest: Rest) -> None:
    status, body, _ = rest.call("POST", f"{NS}/configmaps", cm("Not_Valid"))
    assert status == 422 and body["reason"] == "Invalid"
    assert body["message"].startswith('ConfigMap "Not_Valid" is invalid: metadata.name')
    assert body["details"]["name"] == "Not_Valid" and body["details"]["kind"] == "ConfigMap"
    causes = body["details"]["causes"]
    assert causes[0]["field"] == "metadata.name"
    assert causes[0]["reason"] == "FieldValueInvalid"
    unknown = {**cm("strict"), "spec": {"x": 1}}
    status, body, _ = rest.call("POST", f"{NS}/configmaps?fieldValidation=Strict", unknown)
    assert status == 400
    assert 'strict decoding error: unknown field "spec"' in body["message"]


def test_oversized_body_is_413(rest: Rest) -> None:
    big = cm("big", blob="x" * (3 * 1024 * 1024 + 10))
    status, body, _ = rest.call("POST", f"{NS}/configmaps", big)
    assert status == 413 and body["reason"] == "RequestEntityTooLarge"


def test_unsupported_patch_type_is_415(rest: Rest) -> None:
    rest.call("POST", f"{NS}/configmaps", cm("p415"))
    status, body, _ = rest.call(
        "PATCH", f"{NS}/configmaps/p415", {"data": {}}, content_type="text/plain"
    )
    assert status == 415 and body["reason"] == "UnsupportedMediaType"


def test_labels_and_field_selectors_and_pagination(rest: Rest) -> None:
    for i in range(5):
        obj = cm(f"sel-{i}")
        obj["metadata"]["labels"] = {"tier": "even" if i % 2 == 0 else "odd"}
        assert rest.call("POST", f"{NS}/configmaps", obj)[0] == 201
    _, lst, _ = rest.call("GET", f"{NS}/configmaps?labelSelector=tier%3Deven")
    assert sorted(i["metadata"]["name"] for i in lst["items"]) == ["sel-0", "sel-2", "sel-4"]
    _, lst, _ = rest.call("GET", f"{NS}/configmaps?fieldSelector=metadata.name%3Dsel-3")
    assert [i["metadata"]["name"] for i in lst["items"]] == ["sel-3"]
    _, page, _ = rest.call("GET", f"{NS}/configmaps?labelSelector=tier&limit=2")
    assert len(page["items"]) == 2 and page["metadata"]["continue"]
    names = [i["metadata"]["name"] for i in page["items"]]
    token = page["metadata"]["continue"]
    while token:
        _, page, _ = rest.call(
            "GET", f"{NS}/configmaps?labelSelector=tier&limit=2&continue={token}"
        )
        names += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue")
    assert sorted(names) == [f"sel-{i}" for i in range(5)]
    status, lst, _ = rest.call("DELETE", f"{NS}/configmaps?labelSelector=tier%3Dodd")
    assert status == 200
    _, left, _ = rest.call("GET", f"{NS}/configmaps?labelSelector=tier")
    assert sorted(i["metadata"]["name"] for i in left["items"]) == ["sel-0", "sel-2", "sel-4"]


def test_dry_run_does_not_persist(rest: Rest) -> None:
    status, body, _ = rest.call("POST", f"{NS}/configmaps?dryRun=All", cm("dry"))
    assert status == 201 and body["metadata"]["name"] == "dry"
    assert rest.call("GET", f"{NS}/configmaps/dry")[0] == 404


# --- watch ----------------------------------------------------------------------


def test_watch_streams_events_as_json_lines(rest: Rest) -> None:
    _, lst, _ = rest.call("GET", f"{NS}/configmaps")
    rv = lst["metadata"]["resourceVersion"]
    events: list[dict[str, Any]] = []

    def reader() -> None:
        req = urllib.request.Request(
            f"{rest.base}{NS}/configmaps?watch=1&resourceVersion={rv}"
            "&timeoutSeconds=10&fieldSelector=metadata.name%3Dwatched"
        )
        req.add_header("Authorization", f"Bearer {rest.token}")
        with urllib.request.urlopen(req, context=rest.context(), timeout=30) as r:
            for line in r:
                events.append(json.loads(line))
                if len(events) == 3:
                    return

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    rest.call("POST", f"{NS}/configmaps", cm("watched", a="1"))
    rest.call(
        "PATCH",
        f"{NS}/configmaps/watched",
        {"data": {"a": "2"}},
        content_type="application/merge-patch+json",
    )
    rest.call("DELETE", f"{NS}/configmaps/watched")
    t.join(20)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[1]["object"]["data"] == {"a": "2"}


def test_watch_as_table_for_kubectl_get_w(rest: Rest) -> None:
    rest.call("POST", f"{NS}/configmaps", cm("tw", a="1"))
    req = urllib.request.Request(
        f"{rest.base}{NS}/configmaps?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Dtw"
    )
    req.add_header("Authorization", f"Bearer {rest.token}")
    req.add_header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
    with urllib.request.urlopen(req, context=rest.context(), timeout=30) as r:
        first = json.loads(r.readline())
    assert first["type"] == "ADDED"
    assert first["object"]["kind"] == "Table"
    assert [c["name"] for c in first["object"]["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert first["object"]["rows"][0]["cells"][:2] == ["tw", 1]


# --- patches --------------------------------------------------------------------


def test_the_four_patch_types(rest: Rest) -> None:
    path = "/apis/apps/v1/namespaces/default/deployments"
    assert rest.call("POST", path, deployment("patched"))[0] == 201
    item = f"{path}/patched"

    status, obj, _ = rest.call(
        "PATCH",
        item,
        [{"op": "replace", "path": "/spec/replicas", "value": 3}],
        content_type="application/json-patch+json",
    )
    assert status == 200 and obj["spec"]["replicas"] == 3
    status, body, _ = rest.call(
        "PATCH",
        item,
        [{"op": "test", "path": "/spec/replicas", "value": 99}],
        content_type="application/json-patch+json",
    )
    assert status == 422 and body["reason"] == "Invalid"

    status, obj, _ = rest.call(
        "PATCH",
        item,
        {"metadata": {"labels": {"team": "a"}}},
        content_type="application/merge-patch+json",
    )
    assert status == 200 and obj["metadata"]["labels"] == {"team": "a"}

    # Strategic merge: containers merge by name, ports by containerPort.
    smp = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:2", "ports": [{"containerPort": 443}]},
                        {"name": "sidecar", "image": "busybox"},
                    ]
                }
            }
        }
    }
    status, obj, _ = rest.call(
        "PATCH", item, smp, content_type="application/strategic-merge-patch+json"
    )
    assert status == 200
    containers = obj["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [
        ("web", "nginx:2"),
        ("sidecar", "busybox"),
    ]
    assert [p["containerPort"] for p in containers[0]["ports"]] == [80, 443]
    delete_sidecar = {
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}
    }
    _, obj, _ = rest.call(
        "PATCH", item, delete_sidecar, content_type="application/strategic-merge-patch+json"
    )
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["web"]


def test_server_side_apply_creates_tracks_fields_and_detects_conflicts(rest: Rest) -> None:
    item = "/apis/apps/v1/namespaces/default/deployments/applied"
    config = json.dumps(deployment("applied")).encode()
    apply = "application/apply-patch+yaml"
    status, obj, _ = rest.call(
        "PATCH", f"{item}?fieldManager=alice", raw=config, content_type=apply
    )
    assert status in (200, 201)
    managers = {e["manager"]: e for e in obj["metadata"]["managedFields"]}
    assert managers["alice"]["operation"] == "Apply"
    assert "f:replicas" in managers["alice"]["fieldsV1"]["f:spec"]

    other = deployment("applied")
    other["spec"]["replicas"] = 5
    body_bytes = json.dumps(other).encode()
    status, body, _ = rest.call(
        "PATCH", f"{item}?fieldManager=bob", raw=body_bytes, content_type=apply
    )
    assert status == 409 and body["reason"] == "Conflict"
    assert 'conflict with "alice"' in body["message"] and ".spec.replicas" in body["message"]
    status, obj, _ = rest.call(
        "PATCH", f"{item}?fieldManager=bob&force=true", raw=body_bytes, content_type=apply
    )
    assert status == 200 and obj["spec"]["replicas"] == 5

    # A manager that stops applying a field it alone owns removes it (alice
    # lost spec.replicas to bob, so she no longer applies it).
    plain = deployment("applied")
    del plain["spec"]["replicas"]
    labelled = json.loads(json.dumps(plain))
    labelled["metadata"]["labels"] = {"owner": "alice"}
    status, obj, _ = rest.call(
        "PATCH", f"{item}?fieldManager=alice", raw=json.dumps(labelled).encode(), content_type=apply
    )
    assert status == 200 and obj["metadata"]["labels"] == {"owner": "alice"}
    status, obj, _ = rest.call(
        "PATCH", f"{item}?fieldManager=alice", raw=json.dumps(plain).encode(), content_type=apply
    )
    assert status == 200 and "owner" not in (obj["metadata"].get("labels") or {})
    assert obj["spec"]["replicas"] == 5

    status, body, _ = rest.call("PATCH", item, raw=config, content_type=apply)
    assert status == 400 and "fieldManager" in body["message"]


# --- tables ---------------------------------------------------------------------

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def test_tables_have_upstream_columns(rest: Rest) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "tabled"},
        "spec": {"containers": [{"name": "a", "image": "nginx"}]},
    }
    assert rest.call("POST", f"{NS}/pods", pod)[0] == 201
    _, table, _ = rest.call("GET", f"{NS}/pods", headers={"Accept": TABLE})
    assert table["kind"] == "Table"
    columns = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert columns[:5] == [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0)]
    assert ("IP", 1) in columns and ("Node", 1) in columns
    row = next(r for r in table["rows"] if r["cells"][0] == "tabled")
    assert row["cells"][1:4] == ["0/1", "Pending", "0"]
    assert row["object"]["kind"] == "PartialObjectMetadata"

    rest.call("POST", "/apis/apps/v1/namespaces/default/deployments", deployment("tabled"))
    _, table, _ = rest.call(
        "GET", "/apis/apps/v1/namespaces/default/deployments/tabled", headers={"Accept": TABLE}
    )
    names = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert names == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    _, table, _ = rest.call("GET", "/api/v1/namespaces/default/services", headers={"Accept": TABLE})
    names = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert names == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]
    row = next(r for r in table["rows"] if r["cells"][0] == "kubernetes")
    assert row["cells"][1:5] == ["ClusterIP", "10.96.0.1", "<none>", "443/TCP"]


def test_root_lists_paths_like_upstream(rest: Rest) -> None:
    _, body, _ = rest.call("GET", "/")
    assert "/api/v1" in body["paths"] and "/apis/apps/v1" in body["paths"]


def test_serving_certificate_covers_the_cluster_names(rest: Rest) -> None:
    cert = x509.load_pem_x509_certificate((rest.proc.cert_dir / "apiserver.crt").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(san.get_values_for_type(x509.DNSName))
    ips = {str(i) for i in san.get_values_for_type(x509.IPAddress)}
    assert {"kubernetes.default.svc", "localhost", "apiserver"} <= dns
    assert {"127.0.0.1", "10.96.0.1"} <= ips
    ctx = ssl.create_default_context(cafile=str(rest.ca_file))
    with urllib.request.urlopen(f"{rest.base}/version", context=ctx, timeout=10) as r:
        assert r.status == 200
