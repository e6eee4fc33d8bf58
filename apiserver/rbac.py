"""RBAC: who may do what, from Roles, ClusterRoles and their bindings.

This is upstream's RBAC authorizer (plugin/pkg/auth/authorizer/rbac and
pkg/registry/rbac/validation/rule.go) on plain Kubernetes JSON:

- the rules that apply to a user in a namespace are those of every
  ClusterRoleBinding naming the user (or one of their groups, or their service
  account), then of every RoleBinding in that namespace naming them; a
  RoleBinding's roleRef is a Role of its own namespace or a ClusterRole;
- a rule allows a request when its verbs, API groups, resources (`pods`,
  `pods/log`, `*`, `*/scale`) and resource names match it, or for a
  non-resource request (`/healthz`, `/apis/*`) its verbs and URLs;
- the answer says why, in upstream's words (`RBAC: allowed by RoleBinding
  "toto-reads/default" of Role "pod-reader" to User "toto@test.com"`), and a
  binding whose role is missing is reported (`RBAC: role.rbac.authorization.k8s.io
  "x" not found`) without stopping the evaluation.

Everything here is a pure function of the objects a `RuleSource` hands out,
so it is tested on plain dicts; the apiserver's source reads its watch caches
(apiserver/rbac_rules.py). The superuser fast path (`system:masters`) is the
caller's (apiserver/auth.py), before any lookup.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from apiserver.auth import Attributes, User

JSON = dict[str, Any]

GROUP = "rbac.authorization.k8s.io"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"


class RuleSource(Protocol):
    """Where the RBAC objects come from (the apiserver's watch caches, or a fake)."""

    def cluster_role_bindings(self) -> Iterable[JSON]: ...

    def role_bindings(self, namespace: str) -> Iterable[JSON]: ...

    def cluster_role(self, name: str) -> JSON | None: ...

    def role(self, namespace: str, name: str) -> JSON | None: ...


# --- service account names ---------------------------------------------------------


def service_account_username(namespace: str, name: str) -> str:
    """`system:serviceaccount:<namespace>:<name>`, the user a service account is."""
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def split_service_account(username: str) -> tuple[str, str] | None:
    """(namespace, name) of a service account's user name, else None."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    namespace, sep, name = username[len(SERVICE_ACCOUNT_PREFIX) :].partition(":")
    if not sep or not namespace or not name or ":" in name:
        return None
    return namespace, name


def service_account_groups(namespace: str) -> tuple[str, str]:
    """The groups every service account of `namespace` is in."""
    return ALL_SERVICE_ACCOUNTS, f"{ALL_SERVICE_ACCOUNTS}:{namespace}"


# --- one rule against one request ------------------------------------------------


def _strings(rule: JSON, key: str) -> list[str]:
    value = rule.get(key)
    return [str(v) for v in value] if isinstance(value, list) else []


def verb_matches(rule: JSON, verb: str) -> bool:
    return any(v in ("*", verb) for v in _strings(rule, "verbs"))


def api_group_matches(rule: JSON, group: str) -> bool:
    return any(g in ("*", group) for g in _strings(rule, "apiGroups"))


def resource_matches(rule: JSON, combined: str, subresource: str) -> bool:
    """`combined` is `pods` or `pods/log`; a rule matches it by name, with `*`,
    or with `*/<subresource>` for that subresource of any resource."""
    for resource in _strings(rule, "resources"):
        if resource in ("*", combined):
            return True
        if subresource and resource == f"*/{subresource}":
            return True
    return False


def resource_name_matches(rule: JSON, name: str) -> bool:
    names = _strings(rule, "resourceNames")
    return not names or name in names


def non_resource_url_matches(rule: JSON, path: str) -> bool:
    """Exact URLs, `*` for all, or a prefix ending in `*` (`/apis/*`)."""
    for url in _strings(rule, "nonResourceURLs"):
        if url in ("*", path):
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def rule_allows(attrs: Attributes, rule: JSON) -> bool:
    """Whether `rule` allows the request described by `attrs`."""
    if attrs.is_resource:
        combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        return (
            verb_matches(rule, attrs.verb)
            and api_group_matches(rule, attrs.group)
            and resource_matches(rule, combined, attrs.subresource)
            and resource_name_matches(rule, attrs.name)
        )
    return verb_matches(rule, attrs.verb) and non_resource_url_matches(rule, attrs.path)


# --- subjects ----------------------------------------------------------------------


def applies_to_user(user: User, subject: JSON, namespace: str) -> bool:
    """Whether a binding's subject is this user. A ServiceAccount subject without
    a namespace means the binding's own (RoleBindings only)."""
    kind, name = subject.get("kind"), str(subject.get("name") or "")
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        sa_namespace = str(subject.get("namespace") or namespace)
        if not sa_namespace:
            return False
        return user.name == service_account_username(sa_namespace, name)
    return False


def applies_to(user: User, subjects: Any, namespace: str) -> JSON | None:
    """The first subject of a binding that is this user, else None."""
    for subject in subjects if isinstance(subjects, list) else ():
        if isinstance(subject, dict) and applies_to_user(user, subject, namespace):
            return subject
    return None


# --- where rules come from -----------------------------------------------------------


def describe_subject(subject: JSON, binding_namespace: str) -> str:
    kind, name = subject.get("kind", ""), subject.get("name", "")
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return f'{kind} "{name}/{namespace}"'
    return f'{kind} "{name}"'


@dataclass(frozen=True)
class RuleOrigin:
    """The binding (and its matching subject) a rule was granted through;
    `namespace` is a RoleBinding's, "" for a ClusterRoleBinding."""

    binding: JSON
    subject: JSON
    namespace: str = ""

    def __str__(self) -> str:
        name = str((self.binding.get("metadata") or {}).get("name", ""))
        ref = self.binding.get("roleRef") or {}
        role = f'{ref.get("kind", "")} "{ref.get("name", "")}"'
        subject = describe_subject(self.subject, self.namespace)
        if self.namespace:
            return f'RoleBinding "{name}/{self.namespace}" of {role} to {subject}'
        return f'ClusterRoleBinding "{name}" of {role} to {subject}'


def role_reference_rules(
    source: RuleSource, role_ref: Any, namespace: str
) -> tuple[list[JSON], str | None]:
    """(rules, error) of the role a binding refers to, upstream's errors when the
    role is missing or of an unknown kind."""
    ref = role_ref if isinstance(role_ref, dict) else {}
    kind, name = ref.get("kind"), str(ref.get("name") or "")
    if kind == "Role":
        role = source.role(namespace, name)
        if role is None:
            return [], f'role.{GROUP} "{name}" not found'
    elif kind == "ClusterRole":
        role = source.cluster_role(name)
        if role is None:
            return [], f'clusterrole.{GROUP} "{name}" not found'
    else:
        return [], f'unsupported role reference kind: "{kind or ""}"'
    rules = role.get("rules")
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else [], None


Visit = tuple[RuleOrigin | None, JSON | None, str | None]


def visit_rules_for(source: RuleSource, user: User, namespace: str) -> Iterator[Visit]:
    """Every rule that applies to `user` in `namespace`, with where it comes from,
    as (origin, rule, None); a binding whose role cannot be read as (None, None,
    error). ClusterRoleBindings first, then the namespace's RoleBindings."""
    scopes: list[tuple[Iterable[JSON], str]] = [(source.cluster_role_bindings(), "")]
    if namespace:
        scopes.append((source.role_bindings(namespace), namespace))
    for bindings, scope in scopes:
        for binding in bindings:
            subject = applies_to(user, binding.get("subjects"), scope)
            if subject is None:
                continue
            rules, error = role_reference_rules(source, binding.get("roleRef"), scope)
            if error is not None:
                yield None, None, error
                continue
            origin = RuleOrigin(binding, subject, scope)
            for rule in rules:
                yield origin, rule, None


def aggregate(errors: list[str]) -> str:
    """Upstream's error aggregate: one message alone, several in brackets."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def authorize(source: RuleSource, user: User, attrs: Attributes) -> tuple[bool, str]:
    """(allowed, reason): allowed by the first rule that matches; otherwise no
    reason, or the errors met on the way (missing roles)."""
    errors: list[str] = []
    for origin, rule, error in visit_rules_for(source, user, attrs.namespace):
        if rule is not None and rule_allows(attrs, rule):
            return True, f"RBAC: allowed by {origin}"
        if error is not None:
            errors.append(error)
    return False, f"RBAC: {aggregate(errors)}" if errors else ""


def rules_for(source: RuleSource, user: User, namespace: str) -> tuple[list[JSON], list[str]]:
    """Every rule that applies to `user` in `namespace` (what `kubectl auth can-i
    --list` shows), and the errors met."""
    rules: list[JSON] = []
    errors: list[str] = []
    for _, rule, error in visit_rules_for(source, user, namespace):
        if rule is not None:
            rules.append(rule)
        if error is not None:
            errors.append(error)
    return rules, errors


# --- coverage (escalation prevention, bootstrap policy reconciliation) ------------


def breakdown(rule: JSON) -> Iterator[JSON]:
    """A rule as one rule per group x resource x verb (x name), then per URL x
    verb, in upstream's order (BreakdownRule)."""
    verbs = _strings(rule, "verbs")
    names = _strings(rule, "resourceNames")
    for group, resource, verb in itertools.product(
        _strings(rule, "apiGroups"), _strings(rule, "resources"), verbs
    ):
        piece: JSON = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
        if names:
            for name in names:
                yield piece | {"resourceNames": [name]}
        else:
            yield piece
    for url, verb in itertools.product(_strings(rule, "nonResourceURLs"), verbs):
        yield {"nonResourceURLs": [url], "verbs": [verb]}


def _rule_covers(owner: JSON, piece: JSON) -> bool:
    """Whether `owner` grants everything the single-value rule `piece` grants."""
    if not verb_matches(owner, piece["verbs"][0]):
        return False
    if "nonResourceURLs" in piece:
        return non_resource_url_matches(owner, piece["nonResourceURLs"][0])
    resource = piece["resources"][0]
    _, _, sub = resource.partition("/")
    if not (
        api_group_matches(owner, piece["apiGroups"][0]) and resource_matches(owner, resource, sub)
    ):
        return False
    owned_names = _strings(owner, "resourceNames")
    return not owned_names or piece.get("resourceNames", [None])[0] in owned_names


def missing_rules(owner_rules: list[JSON], wanted: list[JSON]) -> list[JSON]:
    """The pieces (see `breakdown`) of `wanted` that `owner_rules` do not grant,
    as upstream's Covers."""
    return [
        piece
        for rule in wanted
        for piece in breakdown(rule)
        if not any(_rule_covers(owner, piece) for owner in owner_rules)
    ]


def uncovered(owner_rules: list[JSON], wanted: list[JSON]) -> list[JSON]:
    """The rules of `wanted` that `owner_rules` do not fully grant."""
    return [rule for rule in wanted if missing_rules(owner_rules, [rule])]


def compact(pieces: list[JSON]) -> list[JSON]:
    """Upstream's CompactRules: pieces on one group and resource (and at most one
    name) that differ only by verb become one rule with all their verbs."""
    simple: dict[tuple[str, str, str | None], JSON] = {}
    out: list[JSON] = []
    for piece in pieces:
        groups, resources = _strings(piece, "apiGroups"), _strings(piece, "resources")
        names = _strings(piece, "resourceNames")
        if len(groups) != 1 or len(resources) != 1 or len(names) > 1 or "nonResourceURLs" in piece:
            out.append(piece)
            continue
        key = (groups[0], resources[0], names[0] if names else None)
        if key in simple:
            simple[key]["verbs"] = [*simple[key]["verbs"], *_strings(piece, "verbs")]
        else:
            simple[key] = {k: list(v) for k, v in piece.items()}
    return out + list(simple.values())


def _go_quoted(values: list[str]) -> str:
    """Go's %q of a []string: `["a" "b"]`."""
    return "[" + " ".join(json.dumps(v) for v in values) + "]"


def compact_string(rule: JSON) -> str:
    """Upstream's CompactString: `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`."""
    parts = [
        f"{label}:{_go_quoted(_strings(rule, key))}"
        for label, key in (
            ("APIGroups", "apiGroups"),
            ("Resources", "resources"),
            ("NonResourceURLs", "nonResourceURLs"),
            ("ResourceNames", "resourceNames"),
            ("Verbs", "verbs"),
        )
        if _strings(rule, key)
    ]
    return "{" + ", ".join(parts) + "}"


def escalation_message(user: User, missing: list[JSON], problems: list[str]) -> str:
    """Why a user may not grant rules they do not hold (upstream's ConfirmNoEscalation)."""
    lines = sorted({compact_string(rule) for rule in compact(missing)})
    message = (
        f'user "{user.name}" (groups={_go_quoted(list(user.groups))}) is attempting to grant '
        "RBAC permissions not currently held:\n" + "\n".join(lines)
    )
    if problems:
        message += f"; resolution errors: [{', '.join(problems)}]"
    return message
