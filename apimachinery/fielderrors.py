"""Field errors in upstream's words, collected while validating an object.

Kubernetes reports every problem of an object at once, each as a field path
and a message (`spec.containers[0].image: Required value`); the apiserver turns
the list into one 422 Invalid Status with one cause per problem. `ErrorList`
builds those causes with the same message shapes as upstream's
`field.ErrorList`, so what kubectl prints matches what users find in the docs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from apimachinery.errors import Cause


def path(base: str, *parts: str | int) -> str:
    """`path("spec", "containers", 0, "name")` -> `spec.containers[0].name`."""
    out = base
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif p.startswith("["):
            out += p
        else:
            out = f"{out}.{p}" if out else p
    return out


def key(base: str, k: str) -> str:
    """`key("spec.hard", "cpu")` -> `spec.hard[cpu]` (a map entry)."""
    return f"{base}[{k}]"


def _go_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def go_map(value: Mapping[str, Any]) -> str:
    """A map as Go's %#v prints it: `map[string]string{"app":"web"}`."""
    inner = ", ".join(f"{_go_string(k)}:{_go_string(str(v))}" for k, v in sorted(value.items()))
    return "map[string]string{" + inner + "}"


def go_label_selector(value: Mapping[str, Any] | None) -> str:
    """A LabelSelector as Go's %#v prints it (upstream puts it in messages)."""
    if value is None:
        return "(*v1.LabelSelector)(nil)"
    labels = value.get("matchLabels")
    exprs = value.get("matchExpressions")
    ml = go_map(labels) if labels else "map[string]string(nil)"
    if exprs:
        items = ", ".join(
            "v1.LabelSelectorRequirement{Key:"
            + _go_string(str(e.get("key", "")))
            + ", Operator:"
            + _go_string(str(e.get("operator", "")))
            + ", Values:[]string{"
            + ", ".join(_go_string(str(v)) for v in e.get("values") or [])
            + "}}"
            for e in exprs
        )
        me = "[]v1.LabelSelectorRequirement{" + items + "}"
    else:
        me = "[]v1.LabelSelectorRequirement(nil)"
    return f"v1.LabelSelector{{MatchLabels:{ml}, MatchExpressions:{me}}}"


def show(value: Any) -> str:
    """A value as upstream prints it in `Invalid value: <value>`."""
    if isinstance(value, str):
        return _go_string(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(_go_string(v) for v in value) + "}"
    if isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values()):
        return go_map(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class ErrorList:
    """Accumulates causes; `causes` is what `errors.invalid` needs."""

    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def __bool__(self) -> bool:
        return bool(self.causes)

    def __len__(self) -> int:
        return len(self.causes)

    def extend(self, other: ErrorList) -> None:
        self.causes.extend(other.causes)

    def _add(self, field: str, message: str, reason: str) -> None:
        self.causes.append(Cause(field=field, message=message, reason=reason))

    def required(self, field: str, detail: str = "") -> None:
        msg = "Required value" + (f": {detail}" if detail else "")
        self._add(field, msg, "FieldValueRequired")

    def invalid(self, field: str, value: Any, detail: str) -> None:
        msg = f"Invalid value: {show(value)}" + (f": {detail}" if detail else "")
        self._add(field, msg, "FieldValueInvalid")

    def invalid_raw(self, field: str, shown: str, detail: str) -> None:
        """Invalid with the value already formatted (Go structs, maps)."""
        self._add(field, f"Invalid value: {shown}: {detail}", "FieldValueInvalid")

    def not_supported(self, field: str, value: Any, supported: Iterable[str]) -> None:
        valid = ", ".join(_go_string(s) for s in supported)
        msg = f"Unsupported value: {show(value)}"
        if valid:
            msg += f": supported values: {valid}"
        self._add(field, msg, "FieldValueNotSupported")

    def duplicate(self, field: str, value: Any) -> None:
        self._add(field, f"Duplicate value: {show(value)}", "FieldValueDuplicate")

    def not_found(self, field: str, value: Any) -> None:
        self._add(field, f"Not found: {show(value)}", "FieldValueNotFound")

    def forbidden(self, field: str, detail: str) -> None:
        self._add(field, "Forbidden" + (f": {detail}" if detail else ""), "FieldValueForbidden")

    def too_long(self, field: str, max_bytes: int) -> None:
        self._add(field, f"Too long: must have at most {max_bytes} bytes", "FieldValueTooLong")

    def too_many(self, field: str, actual: int, max_items: int) -> None:
        self._add(
            field,
            f"Too many: {actual}: must have at most {max_items} items",
            "FieldValueTooMany",
        )

    def immutable(self, field: str, value: Any) -> None:
        self.invalid(field, value, "field is immutable")
