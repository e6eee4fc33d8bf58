"""Validation of the RBAC kinds (rbac.authorization.k8s.io/v1), as upstream's
pkg/apis/rbac/validation: rules need verbs, non-resource URLs only in
ClusterRoles and never mixed with resources, bindings point at a Role or
ClusterRole of the RBAC group, subjects are Users, Groups or ServiceAccounts
with the right apiGroup, and a binding's roleRef never changes."""

from __future__ import annotations

from typing import Any

from apimachinery import names
from apimachinery.fielderrors import ErrorList, path
from apimachinery.validators.common import JSON, as_dict, as_list, dicts, validate_label_selector

RBAC_GROUP = "rbac.authorization.k8s.io"


def _policy_rule(rule: JSON, *, namespaced: bool, fld: str, errs: ErrorList) -> None:
    if not as_list(rule.get("verbs")):
        errs.required(path(fld, "verbs"), "verbs must contain at least one value")
    urls = as_list(rule.get("nonResourceURLs"))
    if urls:
        if namespaced:
            errs.invalid(
                path(fld, "nonResourceURLs"),
                urls,
                "namespaced rules cannot apply to non-resource URLs",
            )
        if any(as_list(rule.get(k)) for k in ("apiGroups", "resources", "resourceNames")):
            errs.invalid(
                path(fld, "nonResourceURLs"),
                urls,
                "rules cannot apply to both regular resources and non-resource URLs",
            )
        return
    if not as_list(rule.get("apiGroups")):
        errs.required(path(fld, "apiGroups"), "resource rules must supply at least one api group")
    if not as_list(rule.get("resources")):
        errs.required(path(fld, "resources"), "resource rules must supply at least one resource")


def validate_role(obj: JSON, errs: ErrorList) -> None:
    for i, rule in enumerate(dicts(obj.get("rules"))):
        _policy_rule(rule, namespaced=True, fld=path("rules", i), errs=errs)


def validate_clusterrole(obj: JSON, errs: ErrorList) -> None:
    for i, rule in enumerate(dicts(obj.get("rules"))):
        _policy_rule(rule, namespaced=False, fld=path("rules", i), errs=errs)
    if obj.get("aggregationRule") is None:
        return
    selectors = as_list(as_dict(obj["aggregationRule"]).get("clusterRoleSelectors"))
    if not selectors:
        errs.required(
            "aggregationRule.clusterRoleSelectors",
            "at least one clusterRoleSelector required if aggregationRule is non-nil",
        )
    for i, selector in enumerate(selectors):
        validate_label_selector(selector, path("aggregationRule", "clusterRoleSelectors", i), errs)


def _role_ref(obj: JSON, kinds: tuple[str, ...], errs: ErrorList) -> None:
    ref = as_dict(obj.get("roleRef"))
    if ref.get("apiGroup") != RBAC_GROUP:
        errs.not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), (RBAC_GROUP,))
    if ref.get("kind") not in kinds:
        errs.not_supported("roleRef.kind", ref.get("kind", ""), kinds)
    name = str(ref.get("name") or "")
    if not name:
        errs.required("roleRef.name")
    for msg in names.path_segment_name_errors(name) if name else ():
        errs.invalid("roleRef.name", name, msg)


def _subject(subject: JSON, *, namespaced: bool, fld: str, errs: ErrorList) -> None:
    name = str(subject.get("name") or "")
    if not name:
        errs.required(path(fld, "name"))
    kind = subject.get("kind", "")
    group = subject.get("apiGroup", "")
    if kind == "ServiceAccount":
        for msg in names.dns1123_subdomain_errors(name) if name else ():
            errs.invalid(path(fld, "name"), name, msg)
        if group:
            errs.not_supported(path(fld, "apiGroup"), group, ("",))
        if not namespaced and not subject.get("namespace"):
            errs.required(path(fld, "namespace"))
    elif kind in ("User", "Group"):
        if group != RBAC_GROUP:
            errs.not_supported(path(fld, "apiGroup"), group, (RBAC_GROUP,))
    else:
        errs.not_supported(path(fld, "kind"), kind, ("ServiceAccount", "User", "Group"))


def validate_rolebinding(obj: JSON, errs: ErrorList) -> None:
    _role_ref(obj, ("Role", "ClusterRole"), errs)
    for i, subject in enumerate(dicts(obj.get("subjects"))):
        _subject(subject, namespaced=True, fld=path("subjects", i), errs=errs)


def validate_clusterrolebinding(obj: JSON, errs: ErrorList) -> None:
    _role_ref(obj, ("ClusterRole",), errs)
    for i, subject in enumerate(dicts(obj.get("subjects"))):
        _subject(subject, namespaced=False, fld=path("subjects", i), errs=errs)


def _go_role_ref(ref: Any) -> str:
    """How upstream prints the RoleRef struct in its error (`%#v` of rbac.RoleRef)."""
    r = as_dict(ref)
    fields = ", ".join(
        f'{go}:"{r.get(key) or ""}"'
        for go, key in (("APIGroup", "apiGroup"), ("Kind", "kind"), ("Name", "name"))
    )
    return f"rbac.RoleRef{{{fields}}}"


def validate_binding_update(new: JSON, old: JSON, errs: ErrorList) -> None:
    """A binding's roleRef is immutable: delete and recreate it to bind another role."""
    ref = as_dict(new.get("roleRef"))
    old_ref = as_dict(old.get("roleRef"))
    keys = ("apiGroup", "kind", "name")
    if any((ref.get(k) or "") != (old_ref.get(k) or "") for k in keys):
        errs.invalid_raw("roleRef", _go_role_ref(ref), "cannot change roleRef")
