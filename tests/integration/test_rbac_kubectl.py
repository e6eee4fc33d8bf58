"""RBAC with the real kubectl against a real etcd + apiserver: what a learner
types in a Kubernetes course (create role / rolebinding, auth can-i, get,
describe, explain, apply), what users with a token or a client certificate
may then do (upstream's 403 otherwise), and that a new binding counts at once,
on every apiserver of the cluster.

Each test works with its own names and namespaces so the module can share one
apiserver.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from apiserver import pki
from tests.integration.rest_fixtures import Rest, kubectl, rest
from tests.processes import ApiserverProcess

pytestmark = pytest.mark.etcd
__all__ = ["rest"]

SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


def add_token_user(rest: Rest, user: str, groups: str = "") -> str:
    """A bearer token for `user` in the apiserver's tokens file (re-read on change)."""
    token = secrets.token_urlsafe(24)
    tokens = rest.proc.cert_dir / "tokens.csv"
    with tokens.open("a") as f:
        f.write(f'{token},{user},{user},"{groups}"\n')
    return token


def user_kubeconfig(rest: Rest, tmp_path: Path, name: str, user: dict[str, str]) -> Path:
    """The admin kubeconfig with `user`'s credentials instead of the admin's."""
    config = yaml.safe_load(rest.kubeconfig.read_text())
    config["users"] = [{"name": config["users"][0]["name"], "user": user}]
    path = tmp_path / f"{name}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def token_kubeconfig(rest: Rest, tmp_path: Path, name: str, groups: str = "") -> Path:
    return user_kubeconfig(rest, tmp_path, name, {"token": add_token_user(rest, name, groups)})


def cert_kubeconfig(rest: Rest, tmp_path: Path, name: str, groups: tuple[str, ...]) -> Path:
    ca_cert = x509.load_pem_x509_certificate(rest.ca_file.read_bytes())
    ca_key = serialization.load_pem_private_key(
        (rest.proc.cert_dir / "ca.key").read_bytes(), password=None
    )
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    cert, key = pki.issue(ca_cert, ca_key, common_name=name, organizations=groups)
    user = {
        "client-certificate-data": base64.b64encode(cert).decode(),
        "client-key-data": base64.b64encode(key).decode(),
    }
    return user_kubeconfig(rest, tmp_path, name, user)


def as_user(
    rest: Rest, kubeconfig: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return kubectl(rest, "--kubeconfig", str(kubeconfig), *args, check=check)


def namespace(rest: Rest, name: str) -> str:
    kubectl(rest, "create", "namespace", name)
    return name


def rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()]


# --- the learner's sequence, verbatim -------------------------------------------------


def test_learner_sequence(rest: Rest) -> None:
    res = kubectl(rest, "auth", "can-i", "get", "pods", "--as", "toto@test.com", check=False)
    assert (res.stdout.strip(), res.returncode) == ("no", 1)

    out = kubectl(rest, "create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods")
    assert out.stdout.strip() == "role.rbac.authorization.k8s.io/pod-reader created"
    out = kubectl(
        rest, "create", "rolebinding", "toto-reads", "--role=pod-reader", "--user=toto@test.com"
    )
    assert out.stdout.strip() == "rolebinding.rbac.authorization.k8s.io/toto-reads created"

    res = kubectl(rest, "auth", "can-i", "get", "pods", "--as", "toto@test.com")
    assert res.stdout.strip() == "yes"
    res = kubectl(rest, "auth", "can-i", "delete", "pods", "--as", "toto@test.com", check=False)
    assert (res.stdout.strip(), res.returncode) == ("no", 1)

    listed = rows(kubectl(rest, "auth", "can-i", "--list", "--as", "toto@test.com").stdout)
    assert listed[0] == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    assert ["pods", "[]", "[]", "[get", "list", "watch]"] in listed
    assert ["selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"] in listed
    assert ["[/apis/*]", "[]", "[get]"] in listed
    assert not any(r[0].startswith("secrets") for r in listed)

    # Why: SelfSubjectAccessReview answers with upstream's reason.
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "default"}
        },
    }
    status, body, _ = rest.call("POST", SSAR, review, headers={"Impersonate-User": "toto@test.com"})
    assert status == 201
    assert body["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "toto-reads/default" of Role "pod-reader" to '
        'User "toto@test.com"',
    }

    listing = kubectl(rest, "get", "roles,rolebindings,clusterroles,clusterrolebindings").stdout
    tables = [rows(t) for t in listing.strip().split("\n\n")]
    assert tables[0][0] == ["NAME", "CREATED", "AT"]
    assert tables[0][1][0] == "role.rbac.authorization.k8s.io/pod-reader"
    assert tables[1][0] == ["NAME", "ROLE", "AGE"]
    assert tables[1][1][:2] == [
        "rolebinding.rbac.authorization.k8s.io/toto-reads",
        "Role/pod-reader",
    ]
    cluster_roles = {r[0].split("/", 1)[1] for r in tables[2][1:]}
    assert {"cluster-admin", "admin", "edit", "view", "system:basic-user"} <= cluster_roles
    assert {"system:discovery", "system:public-info-viewer"} <= cluster_roles
    cluster_bindings = {r[0].split("/", 1)[1]: r[1] for r in tables[3][1:]}
    assert cluster_bindings["cluster-admin"] == "ClusterRole/cluster-admin"
    assert cluster_bindings["system:discovery"] == "ClusterRole/system:discovery"

    wide = rows(kubectl(rest, "get", "rolebindings", "-o", "wide").stdout)
    assert wide[0] == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert next(r for r in wide if r[0] == "toto-reads")[3] == "toto@test.com"
    viewer = kubectl(rest, "get", "clusterrolebinding", "system:public-info-viewer", "-o", "wide")
    assert "system:authenticated, system:unauthenticated" in viewer.stdout

    described = kubectl(rest, "describe", "role", "pod-reader").stdout
    assert "PolicyRule:" in described
    assert ["pods", "[]", "[]", "[get", "list", "watch]"] in rows(described)
    described = kubectl(rest, "describe", "rolebinding", "toto-reads").stdout
    assert ["Kind:", "Role"] in rows(described) and ["Name:", "pod-reader"] in rows(described)
    assert ["User", "toto@test.com"] in rows(described)


def test_cluster_roles_bindings_and_explain(rest: Rest) -> None:
    out = kubectl(rest, "create", "clusterrole", "pod-lister", "--verb=list", "--resource=pods")
    assert out.stdout.strip() == "clusterrole.rbac.authorization.k8s.io/pod-lister created"
    out = kubectl(
        rest,
        "create",
        "clusterrolebinding",
        "lister-everywhere",
        "--clusterrole=pod-lister",
        "--user=lister",
        "--serviceaccount=ci:builder",
    )
    assert out.stdout.strip() == (
        "clusterrolebinding.rbac.authorization.k8s.io/lister-everywhere created"
    )
    for who in ("lister", "system:serviceaccount:ci:builder"):
        res = kubectl(rest, "auth", "can-i", "list", "pods", "-A", "--as", who)
        assert res.stdout.strip() == "yes"
        res = kubectl(rest, "auth", "can-i", "get", "pods", "--as", who, check=False)
        assert res.stdout.strip() == "no"
    wide = rows(
        kubectl(rest, "get", "clusterrolebinding", "lister-everywhere", "-o", "wide").stdout
    )
    assert wide[1][-2:] == ["lister", "ci/builder"]

    explained = kubectl(rest, "explain", "role.rules").stdout
    assert "KIND:       Role" in explained
    assert "GROUP:      rbac.authorization.k8s.io" in explained
    assert "FIELD: rules <[]PolicyRule>" in explained
    assert "verbs\t<[]string> -required-" in explained
    assert "nonResourceURLs\t<[]string>" in explained
    explained = kubectl(rest, "explain", "clusterrole.aggregationRule").stdout
    assert "clusterRoleSelectors\t<[]LabelSelector>" in explained
    explained = kubectl(rest, "explain", "rolebinding.roleRef").stdout
    assert "name\t<string> -required-" in explained

    resources = rows(kubectl(rest, "api-resources", "--api-group=rbac.authorization.k8s.io").stdout)
    assert resources[1:] == [
        ["clusterrolebindings", "rbac.authorization.k8s.io/v1", "false", "ClusterRoleBinding"],
        ["clusterroles", "rbac.authorization.k8s.io/v1", "false", "ClusterRole"],
        ["rolebindings", "rbac.authorization.k8s.io/v1", "true", "RoleBinding"],
        ["roles", "rbac.authorization.k8s.io/v1", "true", "Role"],
    ]


# --- users with their own credentials ---------------------------------------------------


def test_token_user_lists_pods_in_one_namespace_and_is_forbidden_in_another(
    rest: Rest, tmp_path: Path
) -> None:
    ns_a, ns_b = namespace(rest, "team-a"), namespace(rest, "team-b")
    alice = token_kubeconfig(rest, tmp_path, "alice", "developers")
    kubectl(rest, "-n", ns_a, "create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
    kubectl(
        rest,
        "-n",
        ns_a,
        "create",
        "rolebinding",
        "alice-reads",
        "--role=pod-reader",
        "--user=alice",
    )
    kubectl(rest, "-n", ns_a, "run", "web", "--image=nginx:1.27", "--restart=Never")

    out = as_user(rest, alice, "-n", ns_a, "get", "pods").stdout
    assert rows(out)[0][:3] == ["NAME", "READY", "STATUS"] and rows(out)[1][0] == "web"
    res = as_user(rest, alice, "-n", ns_b, "get", "pods", check=False)
    assert res.returncode == 1
    assert res.stderr.strip() == (
        'Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource '
        '"pods" in API group "" in the namespace "team-b"'
    )
    res = as_user(rest, alice, "-n", ns_a, "delete", "pod", "web", check=False)
    assert res.returncode == 1
    assert res.stderr.strip() == (
        'Error from server (Forbidden): pods "web" is forbidden: User "alice" cannot delete '
        'resource "pods" in API group "" in the namespace "team-a"'
    )
    res = as_user(rest, alice, "get", "nodes", check=False)
    assert (
        'nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the '
        "cluster scope" in res.stderr
    )

    whoami = rows(as_user(rest, alice, "auth", "whoami").stdout)
    assert ["Username", "alice"] in whoami
    assert ["Groups", "[developers", "system:authenticated]"] in whoami
    assert as_user(rest, alice, "-n", ns_a, "auth", "can-i", "list", "pods").stdout.strip() == "yes"
    res = as_user(rest, alice, "-n", ns_b, "auth", "can-i", "list", "pods", check=False)
    assert res.stdout.strip() == "no"
    # Discovery and version are every authenticated user's (system:discovery).
    assert "Server Version" in as_user(rest, alice, "version").stdout
    # Impersonation needs the impersonate verb.
    res = as_user(rest, alice, "get", "pods", "--as", "bob", check=False)
    assert res.stderr.strip() == (
        'Error from server (Forbidden): users "bob" is forbidden: User "alice" cannot '
        'impersonate resource "users" in API group "" at the cluster scope'
    )


def test_cluster_role_bound_by_a_role_binding_to_a_certificate_group(
    rest: Rest, tmp_path: Path
) -> None:
    dev, prod = namespace(rest, "dev"), namespace(rest, "prod")
    carol = cert_kubeconfig(rest, tmp_path, "carol", ("devs",))
    out = kubectl(
        rest, "-n", dev, "create", "rolebinding", "devs-view", "--clusterrole=view", "--group=devs"
    )
    assert out.stdout.strip() == "rolebinding.rbac.authorization.k8s.io/devs-view created"
    kubectl(rest, "-n", dev, "create", "deployment", "web", "--image=nginx:1.27")

    listed = as_user(rest, carol, "-n", dev, "get", "deployments").stdout
    assert rows(listed)[1][0] == "web"
    res = as_user(rest, carol, "-n", prod, "get", "deployments", check=False)
    assert res.stderr.strip() == (
        'Error from server (Forbidden): deployments.apps is forbidden: User "carol" cannot list '
        'resource "deployments" in API group "apps" in the namespace "prod"'
    )
    res = as_user(rest, carol, "-n", dev, "get", "secrets", check=False)
    assert 'User "carol" cannot list resource "secrets"' in res.stderr
    res = as_user(rest, carol, "-n", dev, "scale", "deployment", "web", "--replicas=2", check=False)
    assert (
        'User "carol" cannot patch resource "deployments/scale" in API group "apps"' in res.stderr
    )
    # edit, bound the same way, lets carol change the deployment's scale.
    kubectl(
        rest, "-n", dev, "create", "rolebinding", "devs-edit", "--clusterrole=edit", "--group=devs"
    )
    out = as_user(rest, carol, "-n", dev, "scale", "deployment", "web", "--replicas=2")
    assert out.stdout.strip() == "deployment.apps/web scaled"


def test_a_missing_role_is_part_of_the_403(rest: Rest, tmp_path: Path) -> None:
    frank = token_kubeconfig(rest, tmp_path, "frank")
    ns = namespace(rest, "broken-binding")
    kubectl(rest, "-n", ns, "create", "rolebinding", "frank-reads", "--role=nope", "--user=frank")
    res = as_user(rest, frank, "-n", ns, "get", "configmaps", check=False)
    assert res.stderr.strip() == (
        'Error from server (Forbidden): configmaps is forbidden: User "frank" cannot list resource '
        '"configmaps" in API group "" in the namespace "broken-binding": RBAC: '
        'role.rbac.authorization.k8s.io "nope" not found'
    )


def test_service_accounts_get_nothing_but_what_is_bound(rest: Rest) -> None:
    sa = "system:serviceaccount:default:default"
    res = kubectl(rest, "auth", "can-i", "list", "pods", "--as", sa, check=False)
    assert res.stdout.strip() == "no"
    res = kubectl(rest, "auth", "can-i", "create", "selfsubjectaccessreviews", "--as", sa)
    assert res.stdout.strip() == "yes"
    whoami = rows(kubectl(rest, "auth", "whoami", "--as", sa).stdout)
    assert [
        "Groups",
        "[system:serviceaccounts",
        "system:serviceaccounts:default",
        "system:authenticated]",
    ] in whoami
    kubectl(
        rest,
        "create",
        "rolebinding",
        "sa-view",
        "--clusterrole=view",
        "--serviceaccount=default:default",
    )
    assert kubectl(rest, "auth", "can-i", "list", "pods", "--as", sa).stdout.strip() == "yes"
    res = kubectl(
        rest, "auth", "can-i", "list", "pods", "-n", "kube-system", "--as", sa, check=False
    )
    assert res.stdout.strip() == "no"


def test_anonymous_requests(rest: Rest) -> None:
    status, body, _ = rest.call("GET", "/version", token=None)
    assert status == 200 and body["major"] == "1"
    status, _, _ = rest.call("GET", "/healthz", token=None)
    assert status == 200
    status, body, _ = rest.call("GET", "/api", token=None)
    assert status == 401 and body["reason"] == "Unauthorized"


# --- manifests and immutability ----------------------------------------------------------

MANIFEST = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: monitoring
aggregationRule:
  clusterRoleSelectors:
  - matchLabels:
      rbac.example.com/aggregate-to-monitoring: "true"
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: secret-reader
  namespace: apps
rules:
- apiGroups: [""]
  resources: ["secrets"]
  resourceNames: ["db-password"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: app-reads-secret
  namespace: apps
subjects:
- kind: ServiceAccount
  name: app
  namespace: apps
roleRef:
  kind: Role
  name: secret-reader
  apiGroup: rbac.authorization.k8s.io
"""


def test_apply_rbac_manifests(rest: Rest, tmp_path: Path) -> None:
    namespace(rest, "apps")
    manifest = tmp_path / "rbac.yaml"
    manifest.write_text(MANIFEST)
    out = kubectl(rest, "apply", "-f", str(manifest)).stdout.splitlines()
    assert out == [
        "clusterrole.rbac.authorization.k8s.io/monitoring created",
        "role.rbac.authorization.k8s.io/secret-reader created",
        "rolebinding.rbac.authorization.k8s.io/app-reads-secret created",
    ]
    out = kubectl(rest, "apply", "-f", str(manifest)).stdout.splitlines()
    assert all(line.endswith(" unchanged") for line in out), out

    sa = "system:serviceaccount:apps:app"
    can_i = ["auth", "can-i", "get", "-n", "apps", "--as", sa]
    assert kubectl(rest, *can_i, "secrets/db-password").stdout.strip() == "yes"
    assert kubectl(rest, *can_i, "secrets/other", check=False).stdout.strip() == "no"

    manifest.write_text(MANIFEST.replace('verbs: ["get"]', 'verbs: ["get", "watch"]'))
    out = kubectl(rest, "apply", "-f", str(manifest)).stdout.splitlines()
    assert "role.rbac.authorization.k8s.io/secret-reader configured" in out
    role = json.loads(
        kubectl(rest, "-n", "apps", "get", "role", "secret-reader", "-o", "json").stdout
    )
    assert role["rules"][0]["verbs"] == ["get", "watch"]

    bad = tmp_path / "bad.yaml"
    bad.write_text(MANIFEST.split("---\n")[1].replace('verbs: ["get"]', "verbs: []"))
    res = kubectl(rest, "apply", "-f", str(bad), check=False)
    assert "rules[0].verbs: Required value: verbs must contain at least one value" in res.stderr


def test_role_ref_is_immutable(rest: Rest) -> None:
    kubectl(rest, "create", "role", "cm-reader", "--verb=get", "--resource=configmaps")
    kubectl(rest, "create", "rolebinding", "cm-reads", "--role=cm-reader", "--user=someone")
    res = kubectl(
        rest,
        "patch",
        "rolebinding",
        "cm-reads",
        "--type=merge",
        "-p",
        '{"roleRef":{"kind":"ClusterRole","name":"view"}}',
        check=False,
    )
    assert res.returncode == 1
    assert res.stderr.strip() == (
        'The RoleBinding "cm-reads" is invalid: roleRef: Invalid value: '
        'rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"view"}: '
        "cannot change roleRef"
    )
    # Subjects may change.
    kubectl(
        rest,
        "patch",
        "rolebinding",
        "cm-reads",
        "--type=json",
        "-p",
        '[{"op":"add","path":"/subjects/-","value":{"kind":"User","name":"other"}}]',
    )
    assert (
        kubectl(rest, "auth", "can-i", "get", "configmaps", "--as", "other").stdout.strip() == "yes"
    )


# --- a binding takes effect at once, on every apiserver -----------------------------------


@pytest.fixture
def second_apiserver(rest: Rest, tmp_path: Path) -> Iterator[ApiserverProcess]:
    """Another apiserver on the same etcd, with the same CA and tokens."""
    other = ApiserverProcess(rest.proc.etcd, tmp_path, "--cert-dir", str(rest.proc.cert_dir))
    try:
        other.start()
        yield other
    finally:
        other.stop()


def test_a_new_binding_takes_effect_at_once_on_every_apiserver(
    rest: Rest, second_apiserver: ApiserverProcess
) -> None:
    token = add_token_user(rest, "grace")
    other = Rest(
        proc=second_apiserver,
        base=f"https://127.0.0.1:{second_apiserver.secure_port}",
        kubeconfig=rest.kubeconfig,
        token=rest.token,
        ca_file=rest.ca_file,
    )
    rbac_api = "/apis/rbac.authorization.k8s.io/v1/namespaces"
    status, _, _ = rest.call(
        "POST",
        f"{rbac_api}/default/roles",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "grace-cm"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
        },
    )
    assert status == 201
    for i, (writer, reader) in enumerate([(rest, rest), (rest, other), (other, rest)] * 3):
        ns = f"grace-{i}"
        namespace_obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        assert rest.call("POST", "/api/v1/namespaces", namespace_obj)[0] == 201
        path = f"/api/v1/namespaces/{ns}/configmaps"
        assert reader.call("GET", path, token=token)[0] == 403
        binding: dict[str, Any] = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "grace-reads", "namespace": ns},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [{"kind": "User", "name": "grace"}],
        }
        assert writer.call("POST", f"{rbac_api}/{ns}/rolebindings", binding)[0] == 201
        # No retry: the very next request, on either apiserver, sees the binding.
        status, body, _ = reader.call("GET", path, token=token)
        assert status == 200, body
        assert body["kind"] == "ConfigMapList"
    # The same for a Role created after its binding, and for self reviews.
    grace_binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "grace-secrets"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "grace-secrets",
        },
        "subjects": [{"kind": "User", "name": "grace"}],
    }
    assert rest.call("POST", f"{rbac_api}/default/rolebindings", grace_binding)[0] == 201
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {"verb": "get", "resource": "secrets", "namespace": "default"}
        },
    }
    _, body, _ = other.call("POST", SSAR, review, token=token)
    assert body["status"]["allowed"] is False
    assert (
        body["status"]["reason"] == 'RBAC: role.rbac.authorization.k8s.io "grace-secrets" not found'
    )
    secret_role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "grace-secrets"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
    }
    assert rest.call("POST", f"{rbac_api}/default/roles", secret_role)[0] == 201
    _, body, _ = other.call("POST", SSAR, review, token=token)
    assert body["status"]["allowed"] is True
    assert body["status"]["reason"] == (
        'RBAC: allowed by RoleBinding "grace-secrets/default" of Role "grace-secrets" to User '
        '"grace"'
    )


def test_the_bootstrap_policy_is_reconciled_at_restart(rest: Rest, tmp_path: Path) -> None:
    """A default ClusterRole that lost a rule gets it back when an apiserver starts;
    one marked autoupdate=false is left as it is."""
    rules = [
        {
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews"],
            "verbs": ["create"],
        }
    ]
    patch = json.dumps({"rules": rules})
    kubectl(rest, "patch", "clusterrole", "system:basic-user", "--type=merge", "-p", patch)
    kept = {
        "metadata": {"annotations": {"rbac.authorization.kubernetes.io/autoupdate": "false"}},
        "rules": [{"nonResourceURLs": ["/version"], "verbs": ["get"]}],
    }
    kubectl(
        rest,
        "patch",
        "clusterrole",
        "system:public-info-viewer",
        "--type=merge",
        "-p",
        json.dumps(kept),
    )
    other = ApiserverProcess(rest.proc.etcd, tmp_path, "--cert-dir", str(rest.proc.cert_dir))
    try:
        other.start()
    finally:
        other.stop()
    role = json.loads(kubectl(rest, "get", "clusterrole", "system:basic-user", "-o", "json").stdout)
    resources = [r for rule in role["rules"] for r in rule["resources"]]
    assert "selfsubjectrulesreviews" in resources and "selfsubjectreviews" in resources
    role = json.loads(
        kubectl(rest, "get", "clusterrole", "system:public-info-viewer", "-o", "json").stdout
    )
    assert role["rules"] == kept["rules"]
    # Put it back for the other tests of the module.
    kubectl(
        rest,
        "patch",
        "clusterrole",
        "system:public-info-viewer",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/metadata/annotations/rbac.authorization.kubernetes.io~1autoupdate"},'
        '{"op":"add","path":"/rules/0/nonResourceURLs/-","value":"/healthz"}]',
    )


# --- escalation prevention ------------------------------------------------------------


def test_nobody_grants_what_they_do_not_hold(rest: Rest, tmp_path: Path) -> None:
    ns = namespace(rest, "escalation")
    erin = token_kubeconfig(rest, tmp_path, "erin")
    kubectl(
        rest, "-n", ns, "create", "rolebinding", "erin-admin", "--clusterrole=admin", "--user=erin"
    )

    # admin holds what it grants here: a Role reading secrets, a binding to view.
    out = as_user(
        rest, erin, "-n", ns, "create", "role", "secret-reader", "--verb=get", "--resource=secrets"
    )
    assert out.stdout.strip() == "role.rbac.authorization.k8s.io/secret-reader created"
    out = as_user(
        rest,
        erin,
        "-n",
        ns,
        "create",
        "rolebinding",
        "frank-views",
        "--clusterrole=view",
        "--user=frank",
    )
    assert out.stdout.strip() == "rolebinding.rbac.authorization.k8s.io/frank-views created"

    res = as_user(
        rest,
        erin,
        "-n",
        ns,
        "create",
        "role",
        "node-reader",
        "--verb=get,list",
        "--resource=nodes",
        check=False,
    )
    assert res.returncode == 1
    assert (
        'roles.rbac.authorization.k8s.io "node-reader" is forbidden: user "erin" '
        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently '
        'held:\n{APIGroups:[""], Resources:["nodes"], Verbs:["get" "list"]}'
    ) in res.stderr
    res = as_user(
        rest,
        erin,
        "-n",
        ns,
        "create",
        "rolebinding",
        "erin-root",
        "--clusterrole=cluster-admin",
        "--user=erin",
        check=False,
    )
    assert res.returncode == 1
    assert (
        'rolebindings.rbac.authorization.k8s.io "erin-root" is forbidden: user "erin" '
        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently '
        "held:" in res.stderr
    )
    # Editing the Role to add what erin lacks is refused the same way.
    res = as_user(
        rest,
        erin,
        "-n",
        ns,
        "patch",
        "role",
        "secret-reader",
        "--type=json",
        "-p",
        '[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["nodes"],"verbs":["get"]}}]',
        check=False,
    )
    assert "is attempting to grant RBAC permissions not currently held" in res.stderr

    # With the bind verb on cluster-admin, the binding is allowed (upstream's way to delegate).
    binder = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "bind-cluster-admin"},
        "rules": [
            {
                "apiGroups": ["rbac.authorization.k8s.io"],
                "resources": ["clusterroles"],
                "resourceNames": ["cluster-admin"],
                "verbs": ["bind"],
            }
        ],
    }
    kubectl(rest, "apply", "-f", "-", stdin=json.dumps(binder))
    kubectl(
        rest,
        "-n",
        ns,
        "create",
        "rolebinding",
        "erin-binds",
        "--clusterrole=bind-cluster-admin",
        "--user=erin",
    )
    out = as_user(
        rest,
        erin,
        "-n",
        ns,
        "create",
        "rolebinding",
        "gina-root",
        "--clusterrole=cluster-admin",
        "--user=gina",
    )
    assert out.stdout.strip() == "rolebinding.rbac.authorization.k8s.io/gina-root created"
