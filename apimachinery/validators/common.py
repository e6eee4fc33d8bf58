"""Validation shared by every kind: object metadata, labels and annotations,
label selectors, resource lists, and small field checks.

Each function appends upstream-worded causes to an `ErrorList` and never
raises, so one request reports all of its problems at once, as upstream does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from apimachinery import names, quantity
from apimachinery.fielderrors import ErrorList, key, path

JSON = dict[str, Any]
NameFn = Callable[[str], list[str]]

TOTAL_ANNOTATION_SIZE = 256 * 1024
STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")


def as_dict(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def dicts(value: Any) -> list[JSON]:
    """The dict items of a list field (other items were refused at decoding)."""
    return [v for v in as_list(value) if isinstance(v, dict)]


def validate_labels(labels: Any, fld: str, errs: ErrorList) -> None:
    for k, v in as_dict(labels).items():
        for msg in names.qualified_name_errors(k):
            errs.invalid(fld, k, msg)
        for msg in names.label_value_errors(str(v)):
            errs.invalid(fld, v, msg)


def validate_annotations(annotations: Any, fld: str, errs: ErrorList) -> None:
    total = 0
    for k, v in as_dict(annotations).items():
        for msg in names.qualified_name_errors(k.lower()):
            errs.invalid(fld, k, msg)
        total += len(k) + len(str(v))
    if total > TOTAL_ANNOTATION_SIZE:
        errs.too_long(fld, TOTAL_ANNOTATION_SIZE)


def validate_owner_references(refs: Any, fld: str, errs: ErrorList) -> None:
    controllers = []
    for ref in dicts(refs):
        if not ref.get("apiVersion"):
            errs.invalid(path(fld, "apiVersion"), "", "version must not be empty")
        if not ref.get("kind"):
            errs.invalid(path(fld, "kind"), "", "kind must not be empty")
        if not ref.get("name"):
            errs.invalid(path(fld, "name"), "", "name must not be empty")
        if not ref.get("uid"):
            errs.invalid(path(fld, "uid"), "", "uid must not be empty")
        if ref.get("controller"):
            controllers.append(f"{ref.get('kind', '')}/{ref.get('name', '')}")
    if len(controllers) > 1:
        errs.invalid(
            fld,
            refs,
            'Only one reference can have Controller set to true. Found "true" in '
            f"references for {' and '.join(controllers)}",
        )


def validate_object_meta(
    meta: JSON,
    errs: ErrorList,
    *,
    name_fn: NameFn = names.dns1123_subdomain_errors,
    fld: str = "metadata",
    namespaced: bool = True,
) -> None:
    """ValidateObjectMeta: name/generateName, namespace, labels, annotations,
    owner references and finalizers."""
    name = meta.get("name")
    generate = meta.get("generateName")
    if generate:
        for msg in names.generate_name_errors(str(generate), name_fn):
            errs.invalid(path(fld, "generateName"), generate, msg)
    if not name:
        if not generate:
            errs.required(path(fld, "name"), "name or generateName is required")
    else:
        for msg in name_fn(str(name)):
            errs.invalid(path(fld, "name"), name, msg)
    namespace = meta.get("namespace")
    if namespaced and namespace:
        for msg in names.dns1123_label_errors(str(namespace)):
            errs.invalid(path(fld, "namespace"), namespace, msg)
    validate_labels(meta.get("labels"), path(fld, "labels"), errs)
    validate_annotations(meta.get("annotations"), path(fld, "annotations"), errs)
    validate_owner_references(meta.get("ownerReferences"), path(fld, "ownerReferences"), errs)
    for i, fin in enumerate(as_list(meta.get("finalizers"))):
        for msg in names.qualified_name_errors(str(fin)):
            errs.invalid(path(fld, "finalizers", i), fin, msg)


def validate_object_meta_update(new: JSON, old: JSON, errs: ErrorList) -> None:
    """Name, namespace, uid and creationTimestamp never change."""
    for field_name in ("name", "namespace", "uid", "creationTimestamp"):
        before, after = old.get(field_name), new.get(field_name)
        if before and after and before != after:
            errs.immutable(path("metadata", field_name), after)


_SELECTOR_OPS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_label_selector(selector: Any, fld: str, errs: ErrorList) -> None:
    sel = as_dict(selector)
    validate_labels(sel.get("matchLabels"), path(fld, "matchLabels"), errs)
    for i, expr in enumerate(dicts(sel.get("matchExpressions"))):
        p = path(fld, "matchExpressions", i)
        op = expr.get("operator")
        values = as_list(expr.get("values"))
        if op in ("In", "NotIn"):
            if not values:
                errs.required(
                    path(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'"
                )
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.forbidden(
                    path(p, "values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
        else:
            errs.invalid(path(p, "operator"), op or "", "not a valid selector operator")
        for msg in names.qualified_name_errors(str(expr.get("key", ""))):
            errs.invalid(path(p, "key"), expr.get("key", ""), msg)
        for j, v in enumerate(values):
            for msg in names.label_value_errors(str(v)):
                errs.invalid(path(p, "values", j), v, msg)


def selector_is_empty(selector: Any) -> bool:
    sel = as_dict(selector)
    return not sel.get("matchLabels") and not sel.get("matchExpressions")


def resource_name_errors(name: str) -> list[str]:
    """Container resource names: standard ones, hugepages-*, or fully qualified."""
    if name in STANDARD_CONTAINER_RESOURCES or name.startswith("hugepages-"):
        return []
    if "/" in name and not names.qualified_name_errors(name):
        return []
    return [
        "must be a standard resource type or fully qualified",
        "must be a standard resource for containers",
    ]


def validate_resource_list(
    resources: Any,
    fld: str,
    errs: ErrorList,
    *,
    check_names: bool = True,
) -> dict[str, Any]:
    """Names and non-negative quantities; returns the parsed values."""
    parsed: dict[str, Any] = {}
    for name, value in as_dict(resources).items():
        p = key(fld, name)
        if check_names:
            for msg in resource_name_errors(name):
                errs.invalid(p, name, msg)
        try:
            amount = quantity.parse_quantity(value)
        except quantity.QuantityError as e:
            errs.invalid(p, value, str(e))
            continue
        if amount < 0:
            errs.invalid(p, str(value), "must be greater than or equal to 0")
        parsed[name] = amount
    return parsed


def validate_resource_requirements(req: Any, fld: str, errs: ErrorList) -> None:
    res = as_dict(req)
    limits = validate_resource_list(res.get("limits"), path(fld, "limits"), errs)
    requests = validate_resource_list(res.get("requests"), path(fld, "requests"), errs)
    raw_limits = as_dict(res.get("limits"))
    raw_requests = as_dict(res.get("requests"))
    for name, amount in requests.items():
        if name in limits and amount > limits[name]:
            errs.invalid(
                key(path(fld, "requests"), name),
                str(raw_requests[name]),
                f"must be less than or equal to {name} limit of {raw_limits[name]}",
            )


def non_negative(value: Any, fld: str, errs: ErrorList) -> None:
    if isinstance(value, int) and value < 0:
        errs.invalid(fld, value, "must be greater than or equal to 0")


def positive(value: Any, fld: str, errs: ErrorList) -> None:
    if isinstance(value, int) and value <= 0:
        errs.invalid(fld, value, "must be greater than zero")


def supported(value: Any, fld: str, allowed: Iterable[str], errs: ErrorList) -> None:
    allowed = tuple(allowed)
    if value is not None and value not in allowed:
        errs.not_supported(fld, value, allowed)


def int_or_percent(value: Any, fld: str, errs: ErrorList) -> None:
    """An IntOrString that is a non-negative int or a percent string."""
    if isinstance(value, int):
        non_negative(value, fld, errs)
    elif isinstance(value, str):
        for msg in names.percent_errors(value):
            errs.invalid(fld, value, msg)


def scaled(value: Any, total: int, *, round_up: bool) -> int:
    """The value of an int-or-percent for `total` (upstream GetScaledValueFromIntOrPercent)."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        pct = int(value[:-1])
        whole, rest = divmod(pct * total, 100)
        return whole + (1 if round_up and rest else 0)
    return 0


def labels_match_selector(labels: Mapping[str, str], selector: Any) -> bool:
    from apimachinery.selectors import label_selector_from_dict

    try:
        return label_selector_from_dict(as_dict(selector)).matches(labels)
    except Exception:
        return False
