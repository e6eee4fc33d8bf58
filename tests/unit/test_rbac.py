"""RBAC as upstream evaluates it, on plain objects: which rules match a request
(verbs, API groups, resources and subresources, resource names, non-resource
URLs), which bindings apply to a user (users, groups, service accounts), Roles
versus ClusterRoles bound in a namespace, the reasons given, the validation of
the RBAC kinds, the default policy and ClusterRole aggregation."""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Iterable
from typing import Any

import pytest

from apimachinery import errors, printers, rbac, scheme, validation
from apiserver import auth, bootstrappolicy
from apiserver import rbac as authz
from controller_manager.clusterroleaggregation import ClusterRoleAggregationController
from tests.unit.cm_fakes import FakeCluster

JSON = dict[str, Any]
GROUP = "rbac.authorization.k8s.io"


# --- fixtures: a RuleSource of plain dicts -------------------------------------------


class Policy:
    """An in-memory RuleSource: roles and bindings as the watch caches hold them."""

    def __init__(self) -> None:
        self.roles: dict[tuple[str, str], JSON] = {}
        self.cluster_roles: dict[str, JSON] = {}
        self.bindings: list[JSON] = []
        self.cluster_bindings: list[JSON] = []

    def cluster_role_bindings(self) -> Iterable[JSON]:
        return self.cluster_bindings

    def role_bindings(self, namespace: str) -> Iterable[JSON]:
        return [b for b in self.bindings if b["metadata"]["namespace"] == namespace]

    def cluster_role(self, name: str) -> JSON | None:
        return self.cluster_roles.get(name)

    def role(self, namespace: str, name: str) -> JSON | None:
        return self.roles.get((namespace, name))

    # -- building

    def add_role(self, namespace: str, name: str, *rules: JSON) -> None:
        self.roles[(namespace, name)] = {
            "kind": "Role",
            "metadata": {"name": name, "namespace": namespace},
            "rules": list(rules),
        }

    def add_cluster_role(self, name: str, *rules: JSON) -> None:
        self.cluster_roles[name] = {
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": list(rules),
        }

    def bind(self, namespace: str, name: str, kind: str, role: str, *subjects: JSON) -> None:
        self.bindings.append(
            {
                "kind": "RoleBinding",
                "metadata": {"name": name, "namespace": namespace},
                "roleRef": {"apiGroup": GROUP, "kind": kind, "name": role},
                "subjects": list(subjects),
            }
        )

    def cluster_bind(self, name: str, role: str, *subjects: JSON) -> None:
        self.cluster_bindings.append(
            {
                "kind": "ClusterRoleBinding",
                "metadata": {"name": name},
                "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
                "subjects": list(subjects),
            }
        )


def rule(verbs: str, resources: str = "", groups: str = "", names: str = "") -> JSON:
    out: JSON = {"verbs": verbs.split(","), "apiGroups": groups.split(",")}
    out["resources"] = resources.split(",")
    if names:
        out["resourceNames"] = names.split(",")
    return out


def urls(verbs: str, paths: str) -> JSON:
    return {"verbs": verbs.split(","), "nonResourceURLs": paths.split(",")}


def user_subject(name: str) -> JSON:
    return {"kind": "User", "apiGroup": GROUP, "name": name}


def group_subject(name: str) -> JSON:
    return {"kind": "Group", "apiGroup": GROUP, "name": name}


def sa_subject(name: str, namespace: str = "") -> JSON:
    out: JSON = {"kind": "ServiceAccount", "name": name}
    if namespace:
        out["namespace"] = namespace
    return out


TOTO = auth.User("toto@test.com", groups=("devs", auth.AUTHENTICATED))


def request(verb: str, resource: str, namespace: str = "default", **kw: str) -> auth.Attributes:
    return auth.Attributes(verb=verb, resource=resource, namespace=namespace, **kw)


# --- one rule against one request ---------------------------------------------------


@pytest.mark.parametrize(
    ("the_rule", "attrs", "allowed"),
    [
        (rule("get,list", "pods"), request("get", "pods"), True),
        (rule("get,list", "pods"), request("delete", "pods"), False),
        (rule("*", "pods"), request("deletecollection", "pods"), True),
        (rule("get", "pods"), request("get", "pods", group="apps"), False),
        (rule("get", "deployments", "apps"), request("get", "deployments", group="apps"), True),
        (rule("get", "deployments", "*"), request("get", "deployments", group="apps"), True),
        (rule("get", "*"), request("get", "secrets"), True),
        (rule("get", "pods"), request("get", "pods", subresource="log"), False),
        (rule("get", "pods/log"), request("get", "pods", subresource="log"), True),
        (rule("get", "pods/log"), request("get", "pods"), False),
        (
            rule("get", "*/scale", "apps"),
            request("get", "deployments", "default", group="apps", subresource="scale"),
            True,
        ),
        (rule("get", "*/scale", "apps"), request("get", "deployments", group="apps"), False),
        (rule("get", "*"), request("get", "pods", subresource="log"), True),
        (rule("get", "configmaps", names="app"), request("get", "configmaps", name="app"), True),
        (rule("get", "configmaps", names="app"), request("get", "configmaps", name="other"), False),
        (rule("list", "configmaps", names="app"), request("list", "configmaps"), False),
        (rule("get", "pods"), auth.Attributes(verb="get", path="/api"), False),
        (urls("get", "/healthz"), auth.Attributes(verb="get", path="/healthz"), True),
        (urls("get", "/healthz"), auth.Attributes(verb="get", path="/healthz/etcd"), False),
        (urls("get", "/apis/*"), auth.Attributes(verb="get", path="/apis/apps/v1"), True),
        (urls("get", "/apis/*"), auth.Attributes(verb="get", path="/api"), False),
        (urls("*", "*"), auth.Attributes(verb="post", path="/anything"), True),
        (urls("get", "/version"), auth.Attributes(verb="post", path="/version"), False),
        (urls("get", "*"), request("get", "pods"), False),
    ],
)
def test_rule_matching(the_rule: JSON, attrs: auth.Attributes, allowed: bool) -> None:
    assert authz.rule_allows(attrs, the_rule) is allowed


# --- subjects ------------------------------------------------------------------------


def test_subjects_users_groups_and_service_accounts() -> None:
    sa = auth.User("system:serviceaccount:ci:builder", groups=("system:serviceaccounts",))
    assert authz.applies_to_user(TOTO, user_subject("toto@test.com"), "")
    assert not authz.applies_to_user(TOTO, user_subject("titi"), "")
    assert authz.applies_to_user(TOTO, group_subject("devs"), "")
    assert authz.applies_to_user(TOTO, group_subject(auth.AUTHENTICATED), "")
    assert not authz.applies_to_user(TOTO, group_subject("ops"), "")
    assert authz.applies_to_user(sa, sa_subject("builder", "ci"), "")
    assert not authz.applies_to_user(sa, sa_subject("builder", "prod"), "")
    # Without a namespace: the RoleBinding's own, never at the cluster scope.
    assert authz.applies_to_user(sa, sa_subject("builder"), "ci")
    assert not authz.applies_to_user(sa, sa_subject("builder"), "")
    assert authz.applies_to_user(sa, group_subject("system:serviceaccounts"), "")
    assert not authz.applies_to_user(TOTO, {"kind": "Robot", "name": "toto@test.com"}, "")


def test_service_account_names() -> None:
    assert authz.split_service_account("system:serviceaccount:ci:builder") == ("ci", "builder")
    assert authz.split_service_account("system:serviceaccount:ci") is None
    assert authz.split_service_account("toto") is None
    assert authz.service_account_groups("ci") == (
        "system:serviceaccounts",
        "system:serviceaccounts:ci",
    )


# --- the learner's sequence, Role versus ClusterRole -----------------------------------


def test_role_bound_in_its_namespace_with_upstream_reason() -> None:
    policy = Policy()
    assert authz.authorize(policy, TOTO, request("get", "pods")) == (False, "")
    policy.add_role("default", "pod-reader", rule("get,list,watch", "pods"))
    policy.bind("default", "toto-reads", "Role", "pod-reader", user_subject("toto@test.com"))
    assert authz.authorize(policy, TOTO, request("get", "pods")) == (
        True,
        'RBAC: allowed by RoleBinding "toto-reads/default" of Role "pod-reader" to User '
        '"toto@test.com"',
    )
    assert authz.authorize(policy, TOTO, request("delete", "pods"))[0] is False
    assert authz.authorize(policy, TOTO, request("get", "pods", "kube-system"))[0] is False
    # "in all namespaces" (no namespace) is a cluster-wide question: no.
    assert authz.authorize(policy, TOTO, request("list", "pods", ""))[0] is False


def test_cluster_role_bound_by_a_role_binding_grants_in_that_namespace_only() -> None:
    policy = Policy()
    policy.add_cluster_role("secret-reader", rule("get", "secrets"))
    policy.bind("dev", "read-secrets", "ClusterRole", "secret-reader", group_subject("devs"))
    allowed, reason = authz.authorize(policy, TOTO, request("get", "secrets", "dev"))
    assert allowed
    assert reason == (
        'RBAC: allowed by RoleBinding "read-secrets/dev" of ClusterRole "secret-reader" to '
        'Group "devs"'
    )
    assert not authz.authorize(policy, TOTO, request("get", "secrets", "prod"))[0]
    assert not authz.authorize(policy, TOTO, request("get", "secrets", ""))[0]


def test_cluster_role_binding_grants_everywhere() -> None:
    policy = Policy()
    policy.add_cluster_role("pod-reader", rule("list", "pods"), urls("get", "/healthz"))
    policy.cluster_bind("read-pods", "pod-reader", sa_subject("builder", "ci"))
    sa = auth.User("system:serviceaccount:ci:builder")
    for namespace in ("default", "kube-system", ""):
        allowed, reason = authz.authorize(policy, sa, request("list", "pods", namespace))
        assert allowed
        assert reason == (
            'RBAC: allowed by ClusterRoleBinding "read-pods" of ClusterRole "pod-reader" to '
            'ServiceAccount "builder/ci"'
        )
    assert authz.authorize(policy, sa, auth.Attributes(verb="get", path="/healthz"))[0]


def test_a_role_binding_uses_the_role_of_its_own_namespace() -> None:
    policy = Policy()
    policy.add_role("other", "pod-reader", rule("get", "pods"))
    policy.bind("default", "toto-reads", "Role", "pod-reader", user_subject("toto@test.com"))
    allowed, reason = authz.authorize(policy, TOTO, request("get", "pods"))
    assert not allowed
    assert reason == 'RBAC: role.rbac.authorization.k8s.io "pod-reader" not found'


def test_missing_roles_are_reported_and_do_not_stop_evaluation() -> None:
    policy = Policy()
    policy.cluster_bind("a", "gone", user_subject("toto@test.com"))
    policy.cluster_bind("b", "gone-too", group_subject("devs"))
    policy.cluster_bind("c", "gone", group_subject("devs"))
    allowed, reason = authz.authorize(policy, TOTO, request("get", "pods"))
    assert not allowed
    assert reason == (
        'RBAC: [clusterrole.rbac.authorization.k8s.io "gone" not found, '
        'clusterrole.rbac.authorization.k8s.io "gone-too" not found]'
    )
    policy.add_cluster_role("gone-too", rule("get", "pods"))
    assert authz.authorize(policy, TOTO, request("get", "pods"))[0]


def test_rules_for_lists_what_applies() -> None:
    policy = Policy()
    policy.add_cluster_role(
        "basic", rule("create", "selfsubjectaccessreviews", "authorization.k8s.io")
    )
    policy.cluster_bind("basic", "basic", group_subject(auth.AUTHENTICATED))
    policy.add_role("default", "pod-reader", rule("get", "pods"))
    policy.bind("default", "toto-reads", "Role", "pod-reader", user_subject("toto@test.com"))
    policy.bind("default", "broken", "Role", "nope", user_subject("toto@test.com"))
    rules, problems = authz.rules_for(policy, TOTO, "default")
    assert [r["resources"] for r in rules] == [["selfsubjectaccessreviews"], ["pods"]]
    assert problems == ['role.rbac.authorization.k8s.io "nope" not found']
    rules, _ = authz.rules_for(policy, TOTO, "kube-system")
    assert [r["resources"] for r in rules] == [["selfsubjectaccessreviews"]]


# --- the superuser and impersonation ------------------------------------------------


class Untouchable:
    """A RuleSource that fails the test if it is read at all."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the superuser path looked up {name}")


def test_system_masters_needs_no_lookup() -> None:
    admin = auth.User("kubernetes-admin", groups=(auth.MASTERS, auth.AUTHENTICATED))
    assert auth.authorize(admin, request("delete", "nodes", ""), Untouchable()) == (True, "")


class Headers(dict[str, str]):
    """What aiohttp's CIMultiDict offers the impersonation helpers."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        super().__init__(items)
        self.items_list = items

    def getall(self, key: str, default: list[str]) -> list[str]:
        return [v for k, v in self.items_list if k == key] or default

    def items(self) -> Any:
        return self.items_list


def test_impersonating_a_service_account_gives_its_groups() -> None:
    headers = Headers([("Impersonate-User", "system:serviceaccount:ci:builder")])
    (wanted,) = auth.impersonation_requests(headers)
    assert (wanted.verb, wanted.resource, wanted.namespace, wanted.name) == (
        "impersonate",
        "serviceaccounts",
        "ci",
        "builder",
    )
    user = auth.impersonate(TOTO, headers)
    assert user.groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:ci",
        auth.AUTHENTICATED,
    )


def test_impersonating_a_user_and_groups() -> None:
    headers = Headers([("Impersonate-User", "bob"), ("Impersonate-Group", "ops")])
    wanted = auth.impersonation_requests(headers)
    assert [(w.resource, w.name) for w in wanted] == [("users", "bob"), ("groups", "ops")]
    assert auth.impersonate(TOTO, headers).groups == ("ops", auth.AUTHENTICATED)
    message = auth.forbidden_message(TOTO, wanted[0])
    assert message == (
        'users "bob" is forbidden: User "toto@test.com" cannot impersonate resource "users" in '
        'API group "" at the cluster scope'
    )


def test_tokens_of_service_accounts_get_their_groups(tmp_path: Any) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('tok1,toto@test.com,toto,"devs"\ntok2,system:serviceaccount:ci:builder,sa\n')
    users = auth.load_tokens(tokens)
    assert users["tok1"].groups == ("devs", auth.AUTHENTICATED)
    assert users["tok2"].groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:ci",
        auth.AUTHENTICATED,
    )


def test_forbidden_message_carries_the_rbac_reason() -> None:
    attrs = request("list", "pods", "dev")
    assert auth.forbidden_message(
        TOTO, attrs, 'RBAC: role.rbac.authorization.k8s.io "x" not found'
    ) == (
        'pods is forbidden: User "toto@test.com" cannot list resource "pods" in API group "" in '
        'the namespace "dev": RBAC: role.rbac.authorization.k8s.io "x" not found'
    )


class FreshPolicy(Policy):
    """A policy that only shows a late binding once asked to catch up."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[JSON] = []
        self.catch_ups = 0

    async def catch_up(self) -> None:
        self.catch_ups += 1
        self.bindings += self.pending
        self.pending = []


def test_a_denial_is_checked_again_after_catching_up() -> None:
    policy = FreshPolicy()
    policy.add_role("default", "pod-reader", rule("get", "pods"))
    policy.bind("default", "late", "Role", "pod-reader", user_subject("toto@test.com"))
    policy.pending, policy.bindings = policy.bindings, []
    authorizer = auth.Authorizer(policy)
    allowed, _ = asyncio.run(authorizer.authorize(TOTO, request("get", "pods")))
    assert allowed and policy.catch_ups == 1
    asyncio.run(authorizer.authorize(TOTO, request("get", "pods")))
    assert policy.catch_ups == 1, "an allowed request needs no catching up"


# --- validation and defaults of the RBAC kinds ---------------------------------------


def admit(obj: JSON, **kw: Any) -> JSON:
    rt = scheme.for_kind(obj["apiVersion"], obj["kind"])
    kw.setdefault("operation", "CREATE")
    return validation.admit(rt, obj, **kw)[0]


def causes(obj: JSON, **kw: Any) -> list[str]:
    with pytest.raises(errors.Invalid) as e:
        admit(obj, **kw)
    return [f"{c.field}: {c.message}" for c in e.value.causes]


def role(kind: str, *rules: JSON, name: str = "r") -> JSON:
    meta: JSON = {"name": name}
    if kind == "Role":
        meta["namespace"] = "default"
    return {"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": meta, "rules": list(rules)}


def binding(kind: str, ref_kind: str, *subjects: JSON, ref: str = "view") -> JSON:
    meta: JSON = {"name": "b"}
    if kind == "RoleBinding":
        meta["namespace"] = "default"
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": GROUP, "kind": ref_kind, "name": ref},
        "subjects": list(subjects),
    }


def test_role_validation() -> None:
    assert admit(role("Role", rule("get", "pods"), name="system:pod-reader"))
    assert causes(role("Role", {"apiGroups": [""], "resources": ["pods"]})) == [
        "rules[0].verbs: Required value: verbs must contain at least one value"
    ]
    assert causes(role("Role", {"verbs": ["get"]})) == [
        "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
        "rules[0].resources: Required value: resource rules must supply at least one resource",
    ]
    assert causes(role("Role", urls("get", "/healthz"))) == [
        'rules[0].nonResourceURLs: Invalid value: []string{"/healthz"}: namespaced rules cannot '
        "apply to non-resource URLs"
    ]
    assert admit(role("ClusterRole", urls("get", "/healthz")))
    mixed = {"verbs": ["get"], "nonResourceURLs": ["/x"], "resources": ["pods"]}
    assert causes(role("ClusterRole", mixed)) == [
        'rules[0].nonResourceURLs: Invalid value: []string{"/x"}: rules cannot apply to both '
        "regular resources and non-resource URLs"
    ]
    assert causes(role("ClusterRole", rule("get", "pods"), name="a/b")) == [
        "metadata.name: Invalid value: \"a/b\": may not contain '/'"
    ]
    aggregated = role("ClusterRole") | {"aggregationRule": {"clusterRoleSelectors": []}}
    assert causes(aggregated) == [
        "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector "
        "required if aggregationRule is non-nil"
    ]


def test_role_strict_decoding() -> None:
    with pytest.raises(errors.BadRequest, match=re.escape('unknown field "rules[0].verb"')):
        admit(role("Role", {"verb": ["get"]}))


def test_binding_defaults_and_validation() -> None:
    created = admit(
        binding("RoleBinding", "Role", {"kind": "User", "name": "toto"}, sa_subject("builder"))
    )
    assert created["subjects"] == [
        {"kind": "User", "name": "toto", "apiGroup": GROUP},
        {"kind": "ServiceAccount", "name": "builder"},
    ]
    missing = binding("RoleBinding", "Role")
    del missing["roleRef"]
    assert causes(missing) == [
        'roleRef.kind: Unsupported value: "": supported values: "Role", "ClusterRole"',
        "roleRef.name: Required value",
    ]
    assert causes(binding("ClusterRoleBinding", "Role")) == [
        'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"'
    ]
    assert causes(binding("ClusterRoleBinding", "ClusterRole", sa_subject("builder"))) == [
        "subjects[0].namespace: Required value"
    ]
    bad = [
        {"kind": "User", "apiGroup": "example.com", "name": "x"},
        {"kind": "ServiceAccount", "apiGroup": GROUP, "name": "x"},
        {"kind": "Robot", "name": "x"},
        {"kind": "Group"},
    ]
    assert causes(binding("RoleBinding", "ClusterRole", *bad)) == [
        'subjects[0].apiGroup: Unsupported value: "example.com": supported values: '
        '"rbac.authorization.k8s.io"',
        'subjects[1].apiGroup: Unsupported value: "rbac.authorization.k8s.io": supported '
        'values: ""',
        'subjects[2].kind: Unsupported value: "Robot": supported values: "ServiceAccount", '
        '"User", "Group"',
        "subjects[3].name: Required value",
    ]


def test_role_ref_is_immutable() -> None:
    old = admit(binding("RoleBinding", "Role", ref="pod-reader"))
    new = copy.deepcopy(old)
    new["roleRef"]["name"] = "view"
    new["roleRef"]["kind"] = "ClusterRole"
    assert causes(new, operation="UPDATE", old=old) == [
        'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", '
        'Kind:"ClusterRole", Name:"view"}: cannot change roleRef'
    ]
    same = copy.deepcopy(old)
    same["subjects"] = [user_subject("toto")]
    assert admit(same, operation="UPDATE", old=old)["subjects"] == [user_subject("toto")]


# --- tables ---------------------------------------------------------------------------


def test_binding_and_role_tables() -> None:
    obj = binding(
        "RoleBinding",
        "Role",
        user_subject("toto"),
        user_subject("titi"),
        group_subject("devs"),
        sa_subject("builder", "ci"),
        ref="pod-reader",
    )
    table = printers.table(GROUP, "rolebindings", [obj])
    columns = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert columns == [
        ("Name", 0),
        ("Role", 0),
        ("Age", 0),
        ("Users", 1),
        ("Groups", 1),
        ("ServiceAccounts", 1),
    ]
    cells = table["rows"][0]["cells"]
    assert cells[:2] == ["b", "Role/pod-reader"]
    assert cells[3:] == ["toto, titi", "devs", "ci/builder"]
    stamped = role("ClusterRole") | {
        "metadata": {"name": "r", "creationTimestamp": "2026-01-02T03:04:05Z"}
    }
    table = printers.table(GROUP, "clusterroles", [stamped])
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Created At"]
    assert table["rows"][0]["cells"] == ["r", "2026-01-02T03:04:05Z"]


# --- default policy and aggregation ---------------------------------------------------


def _policy_of_bootstrap() -> Policy:
    policy = Policy()
    for r in bootstrappolicy.cluster_roles():
        policy.cluster_roles[r["metadata"]["name"]] = r
    policy.cluster_bindings = bootstrappolicy.cluster_role_bindings()
    return policy


def test_bootstrap_policy_objects_are_valid() -> None:
    for obj in bootstrappolicy.cluster_roles() + bootstrappolicy.cluster_role_bindings():
        assert admit(obj)


def test_bootstrap_policy_grants_what_upstream_grants() -> None:
    policy = _policy_of_bootstrap()
    anyone = auth.User("toto@test.com", groups=(auth.AUTHENTICATED,))
    anonymous = auth.ANONYMOUS_USER
    discovery = auth.Attributes(verb="get", path="/apis/apps/v1")
    version = auth.Attributes(verb="get", path="/version")
    ssar = request("create", "selfsubjectaccessreviews", "", group="authorization.k8s.io")
    assert authz.authorize(policy, anyone, discovery)[0]
    assert authz.authorize(policy, anyone, ssar) == (
        True,
        'RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole '
        '"system:basic-user" to Group "system:authenticated"',
    )
    assert authz.authorize(policy, anonymous, version)[0]
    assert not authz.authorize(policy, anonymous, discovery)[0]
    assert not authz.authorize(policy, anyone, request("list", "pods"))[0]
    admin = auth.User("root", groups=(auth.MASTERS,))
    assert authz.authorize(policy, admin, request("delete", "nodes", ""))[0]
    # view within edit within admin, as the aggregation makes them.
    roles = policy.cluster_roles
    assert authz.uncovered(roles["edit"]["rules"], roles["view"]["rules"]) == []
    assert authz.uncovered(roles["admin"]["rules"], roles["edit"]["rules"]) == []
    assert authz.uncovered(roles["view"]["rules"], [rule("get", "secrets")]) != []
    assert authz.uncovered(roles["admin"]["rules"], [rule("create", "roles", GROUP)]) == []


def test_reconciliation_adds_what_is_missing_and_keeps_the_rest() -> None:
    expected = next(r for r in bootstrappolicy.cluster_roles() if r["metadata"]["name"] == "view")
    existing = copy.deepcopy(expected)
    existing["rules"] = [*existing["rules"][1:], rule("get", "widgets", "example.com")]
    existing["metadata"]["labels"]["team"] = "a"
    fixed = bootstrappolicy.reconciled_role(existing, expected)
    assert fixed is not None
    assert fixed["rules"][-1] == expected["rules"][0]
    assert rule("get", "widgets", "example.com") in fixed["rules"]
    assert fixed["metadata"]["labels"]["team"] == "a"
    assert bootstrappolicy.reconciled_role(fixed, expected) is None
    existing["metadata"]["annotations"][rbac.AUTOUPDATE_ANNOTATION] = "false"
    assert bootstrappolicy.reconciled_role(existing, expected) is None

    expected_binding = bootstrappolicy.cluster_role_bindings()[3]
    changed = copy.deepcopy(expected_binding)
    changed["subjects"] = [user_subject("someone")]
    fixed = bootstrappolicy.reconciled_binding(changed, expected_binding)
    assert fixed is not None
    assert [s["name"] for s in fixed["subjects"]] == [
        "someone",
        "system:authenticated",
        "system:unauthenticated",
    ]


def test_aggregated_rules() -> None:
    def cluster_role(name: str, labels: dict[str, str], *rules: JSON) -> JSON:
        return {"metadata": {"name": name, "labels": labels}, "rules": list(rules)}

    aggregate = {
        "metadata": {"name": "monitoring"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"to-monitoring": "true"}}]},
        "rules": [],
    }
    roles = [
        aggregate,
        cluster_role("b-metrics", {"to-monitoring": "true"}, rule("get", "nodes")),
        cluster_role(
            "a-pods", {"to-monitoring": "true"}, rule("list", "pods"), rule("get", "nodes")
        ),
        cluster_role("other", {}, rule("*", "*", "*")),
    ]
    assert rbac.aggregated_rules(aggregate, roles) == [rule("list", "pods"), rule("get", "nodes")]
    assert rbac.aggregated_rules(roles[1], roles) is None


def test_aggregation_controller_updates_the_aggregate() -> None:
    cluster = FakeCluster()
    rt = scheme.lookup(GROUP, "v1", "clusterroles")
    for obj in bootstrappolicy.cluster_roles():
        cluster.add(rt, obj)
    controller = ClusterRoleAggregationController(cluster.context())
    asyncio.run(controller.sync("view"))
    assert cluster.writes() == [], "the bootstrap aggregates are already up to date"
    cluster.add(
        rt,
        {
            "metadata": {
                "name": "widgets-view",
                "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
            },
            "rules": [rule("get,list,watch", "widgets", "example.com")],
        },
    )
    controller._changed({})
    assert sorted(cluster.queues["clusterrole-aggregation"].added) == ["admin", "edit", "view"]
    for name in ("view", "edit", "admin"):
        asyncio.run(controller.sync(name))
    assert cluster.writes() == [
        ("update", "clusterroles", "", "view"),
        ("update", "clusterroles", "", "edit"),
        ("update", "clusterroles", "", "admin"),
    ]
    admin = cluster.get_obj(rt, "admin")
    assert admin is not None
    assert rule("get,list,watch", "widgets", "example.com") in admin["rules"]


# --- escalation prevention ------------------------------------------------------------


def test_missing_rules_are_described_as_upstream() -> None:
    held = [rule("get,list", "pods"), rule("*", "configmaps", names="app"), urls("get", "/api/*")]
    wanted = [
        rule("get,list,delete", "pods,pods/log"),
        rule("get", "configmaps", names="app,other"),
        urls("get,post", "/api/v1,/healthz"),
    ]
    missing = authz.missing_rules(held, wanted)
    assert authz.escalation_message(TOTO, missing, []) == (
        'user "toto@test.com" (groups=["devs" "system:authenticated"]) is attempting to grant '
        "RBAC permissions not currently held:\n"
        '{APIGroups:[""], Resources:["configmaps"], ResourceNames:["other"], Verbs:["get"]}\n'
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n'
        '{APIGroups:[""], Resources:["pods/log"], Verbs:["get" "list" "delete"]}\n'
        '{NonResourceURLs:["/api/v1"], Verbs:["post"]}\n'
        '{NonResourceURLs:["/healthz"], Verbs:["get"]}\n'
        '{NonResourceURLs:["/healthz"], Verbs:["post"]}'
    )
    assert authz.missing_rules([rule("*", "*", "*")], wanted[:2]) == []
    assert authz.missing_rules([rule("get", "*/log")], [rule("get", "pods/log")]) == []
    assert authz.missing_rules([rule("get", "pods")], [rule("*", "pods")]) != []
