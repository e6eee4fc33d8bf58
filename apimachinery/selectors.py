"""Label and field selectors, as in `kubectl get -l app=web,tier!=db` and
`--field-selector status.phase=Running`.

`parse_label_selector` understands the full upstream syntax (=, ==, !=, in,
notin, exists, !exists, and gt/lt as node affinity uses them);
`label_selector_from_dict` turns a LabelSelector object (matchLabels +
matchExpressions) into the same thing, and `selector_from_set` a plain map such
as a Service's `spec.selector`.
`parse_field_selector` understands =, == and !=; `object_fields` gives the
fields a resource supports for selection (metadata.name, metadata.namespace,
and per kind e.g. spec.nodeName and status.phase for pods); selecting on any
other field is a 400 `field label not supported: <field>`.

The semantics are upstream's: `!=` and `notin` also match objects that lack
the key; a nil LabelSelector selects nothing while an empty one selects
everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from apimachinery import errors
from apimachinery.names import label_value_errors, qualified_name_errors
from apimachinery.scheme import ResourceType


class Selector(Protocol):
    def matches(self, values: Mapping[str, str]) -> bool: ...

    def empty(self) -> bool: ...


# --- label selectors ------------------------------------------------------------

EXISTS = "exists"
DOES_NOT_EXIST = "!"
EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
IN = "in"
NOT_IN = "notin"
GREATER_THAN = "gt"
LESS_THAN = "lt"


@dataclass(frozen=True)
class Requirement:
    """One term of a label selector: `key op values`."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (GREATER_THAN, LESS_THAN):
            if self.key not in labels:
                return False
            try:
                have = int(labels[self.key])
            except ValueError:
                return False
            want = int(self.values[0])
            return have > want if op == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        if self.operator == EXISTS:
            return self.key
        if self.operator == DOES_NOT_EXIST:
            return "!" + self.key
        if self.operator in (IN, NOT_IN):
            return f"{self.key} {self.operator} ({','.join(sorted(self.values))})"
        if self.operator in (GREATER_THAN, LESS_THAN):
            return f"{self.key} {self.operator} {self.values[0]}"
        return f"{self.key}{self.operator}{self.values[0]}"


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of requirements; `nothing=True` selects no object at all."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, values: Mapping[str, str]) -> bool:
        if self.nothing:
            return False
        return all(r.matches(values) for r in self.requirements)

    def empty(self) -> bool:
        return not self.nothing and not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)


def _new_requirement(key: str, op: str, values: list[str]) -> Requirement:
    """A requirement, validated as upstream's labels.NewRequirement does."""
    key_errs = qualified_name_errors(key)
    if key_errs:
        raise errors.BadRequest(
            message=f'unable to parse requirement: key: Invalid value: "{key}": {key_errs[0]}'
        )
    if op in (IN, NOT_IN) and not values:
        raise errors.BadRequest(
            message="unable to parse requirement: values: Invalid value: []: "
            "for 'in', 'notin' operators, values set can't be empty"
        )
    if op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS) and len(values) != 1:
        raise errors.BadRequest(
            message="unable to parse requirement: values: Invalid value: "
            f"{values}: exact-match compatibility requires one single value"
        )
    if op in (EXISTS, DOES_NOT_EXIST) and values:
        raise errors.BadRequest(
            message="unable to parse requirement: values: Invalid value: "
            f"{values}: values set must be empty for exists and does not exist"
        )
    if op in (GREATER_THAN, LESS_THAN):
        if len(values) != 1:
            raise errors.BadRequest(
                message="unable to parse requirement: values: Invalid value: "
                f"{values}: for 'Gt', 'Lt' operators, exactly one value is required"
            )
        try:
            int(values[0])
        except ValueError:
            raise errors.BadRequest(
                message="unable to parse requirement: values[0]: Invalid value: "
                f"\"{values[0]}\": for 'Gt', 'Lt' operators, the value must be an integer"
            ) from None
    else:
        for i, v in enumerate(values):
            v_errs = label_value_errors(v)
            if v_errs:
                raise errors.BadRequest(
                    message=f"unable to parse requirement: values[{i}][{key}]: "
                    f'Invalid value: "{v}": {v_errs[0]}'
                )
    if op in (IN, NOT_IN):
        values = sorted(set(values))
    return Requirement(key, op, tuple(values))


# Tokens of the label selector language, as upstream's lexer cuts them.
_SPECIAL = "!=(),<>"
_OPERATOR_TOKENS = ("!=", "==", "=", "!", "(", ")", ",", ">", "<")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in _SPECIAL:
            for tok in _OPERATOR_TOKENS:
                if text.startswith(tok, i):
                    out.append(tok)
                    i += len(tok)
                    break
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] not in _SPECIAL:
            j += 1
        out.append(text[i:j])
        i = j
    return out


def _is_identifier(tok: str) -> bool:
    return tok not in _OPERATOR_TOKENS


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def next(self) -> str | None:
        tok = self.peek()
        self.pos += 1
        return tok

    def fail(self, found: str | None, expected: str) -> errors.BadRequest:
        return errors.BadRequest(
            message=f"unable to parse requirement: found '{found or ''}', expected: {expected}"
        )

    def parse(self) -> LabelSelector:
        reqs: list[Requirement] = []
        while True:
            if self.peek() is None:
                break
            reqs.append(self.requirement())
            tok = self.next()
            if tok is None:
                break
            if tok != ",":
                raise self.fail(tok, "',' or 'end of string'")
            if self.peek() is None:
                raise self.fail(None, "identifier after ','")
        # Upstream sorts requirements by key, so equal selectors print alike.
        return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))

    def requirement(self) -> Requirement:
        tok = self.next()
        if tok == "!":
            key = self.next()
            if key is None or not _is_identifier(key):
                raise self.fail(key, "identifier after '!'")
            if self.peek() not in (None, ","):
                raise self.fail(self.peek(), "',' or 'end of string'")
            return _new_requirement(key, DOES_NOT_EXIST, [])
        if tok is None or not _is_identifier(tok):
            raise self.fail(tok, "!, identifier")
        key = tok
        op = self.peek()
        if op in (None, ","):
            return _new_requirement(key, EXISTS, [])
        self.pos += 1
        if op in ("=", "==", "!="):
            value = self.peek()
            if value is None or value == ",":
                return _new_requirement(key, op, [""])
            if not _is_identifier(value):
                raise self.fail(value, "identifier")
            self.pos += 1
            return _new_requirement(key, op, [value])
        if op in ("in", "notin"):
            paren = self.next()
            if paren != "(":
                raise self.fail(paren, "'('")
            values: list[str] = []
            expect_value = True
            while True:
                t = self.next()
                if t is None:
                    raise self.fail(None, "',', ')' or identifier")
                if t == ")":
                    if expect_value:
                        values.append("")
                    break
                if t == ",":
                    if expect_value:
                        values.append("")
                    expect_value = True
                    continue
                if not _is_identifier(t) or not expect_value:
                    raise self.fail(t, "',', ')' or identifier")
                values.append(t)
                expect_value = False
            return _new_requirement(key, op, values)
        if op in ("gt", "lt", ">", "<"):
            value = self.next()
            if value is None or not _is_identifier(value):
                raise self.fail(value, "identifier")
            return _new_requirement(key, GREATER_THAN if op in ("gt", ">") else LESS_THAN, [value])
        raise self.fail(op, "in, notin, =, ==, !=, gt, lt")


def parse_label_selector(text: str) -> LabelSelector:
    """A label selector from its string form; BadRequest when malformed."""
    if not text.strip():
        return EVERYTHING
    return _Parser(text).parse()


_EXPRESSION_OPS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def label_selector_from_dict(selector: Mapping[str, Any] | None) -> LabelSelector:
    """A selector from a LabelSelector object (matchLabels, matchExpressions).

    As upstream's LabelSelectorAsSelector: None selects nothing, `{}` everything.
    """
    if selector is None:
        return NOTHING
    reqs: list[Requirement] = []
    for key, value in sorted((selector.get("matchLabels") or {}).items()):
        reqs.append(_new_requirement(str(key), EQUALS, [str(value)]))
    for expr in selector.get("matchExpressions") or []:
        op = _EXPRESSION_OPS.get(str(expr.get("operator", "")))
        if op is None:
            raise errors.BadRequest(
                message=f'"{expr.get("operator", "")}" is not a valid label selector operator'
            )
        values = [str(v) for v in expr.get("values") or []]
        reqs.append(_new_requirement(str(expr.get("key", "")), op, values))
    return LabelSelector(tuple(reqs))


def selector_from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """`key=value` for every entry (a Service's or RC's selector map); empty selects all."""
    if not labels:
        return EVERYTHING
    return LabelSelector(tuple(Requirement(k, EQUALS, (v,)) for k, v in sorted(labels.items())))


# --- field selectors ----------------------------------------------------------


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: str  # "=" or "!="
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        have = fields.get(self.field, "")
        return have == self.value if self.operator == "=" else have != self.value


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, values: Mapping[str, str]) -> bool:
        return all(r.matches(values) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def requires(self, field: str) -> str | None:
        """The value an `=` term pins `field` to, if any (for indexed lookups)."""
        for r in self.requirements:
            if r.field == field and r.operator == "=":
                return r.value
        return None


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == "\\":
            if i + 1 >= len(value) or value[i + 1] not in "\\,=":
                raise errors.BadRequest(message=f"invalid field selector: '{value}'")
            out.append(value[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _split_term(term: str) -> tuple[str, str, str] | None:
    """(field, op, value) at the first unescaped operator, as upstream splitTerm."""
    i = 0
    while i < len(term):
        if term[i] == "\\":
            i += 2
            continue
        for op, norm in (("!=", "!="), ("==", "="), ("=", "=")):
            if term.startswith(op, i):
                return term[:i], norm, term[i + len(op) :]
        i += 1
    return None


_META_FIELDS = ("metadata.name", "metadata.namespace")
_EXTRA_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    (
        "",
        "pods",
    ): (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    ("", "events"): (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    ("", "secrets"): ("type",),
    ("", "nodes"): ("spec.unschedulable",),
    ("", "namespaces"): ("status.phase",),
    ("apps", "replicasets"): ("status.replicas",),
    ("batch", "jobs"): ("status.successful",),
}


def supported_fields(rt: ResourceType) -> tuple[str, ...]:
    """The fields `rt` can be selected on."""
    return _META_FIELDS + _EXTRA_FIELDS.get((rt.group, rt.resource), ())


def parse_field_selector(rt: ResourceType, text: str) -> FieldSelector:
    """A field selector for `rt`; BadRequest for a malformed or unsupported field."""
    if not text.strip():
        return FieldSelector()
    allowed = supported_fields(rt)
    reqs: list[FieldRequirement] = []
    for term in _split_unescaped(text, ","):
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise errors.BadRequest(
                message=f"invalid selector: '{text}'; can't understand '{term}'"
            )
        field, op, value = split
        if field not in allowed:
            raise errors.BadRequest(message=f"field label not supported: {field}")
        reqs.append(FieldRequirement(field, op, _unescape(value)))
    return FieldSelector(tuple(reqs))


def _dig(obj: Mapping[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def _as_field_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def object_fields(rt: ResourceType, obj: Mapping[str, Any]) -> dict[str, str]:
    """The selectable fields of `obj` and their values as strings."""
    out: dict[str, str] = {}
    for field in supported_fields(rt):
        if field == "source" and rt.resource == "events":
            out[field] = _as_field_string(_dig(obj, "source.component"))
            continue
        if field == "spec.unschedulable":
            out[field] = _as_field_string(bool(_dig(obj, field)))
            continue
        if field == "spec.hostNetwork":
            out[field] = _as_field_string(bool(_dig(obj, field)))
            continue
        out[field] = _as_field_string(_dig(obj, field))
    return out


def matches(
    rt: ResourceType,
    obj: Mapping[str, Any],
    *,
    labels: Selector | None = None,
    fields: Selector | None = None,
) -> bool:
    """Whether `obj` is selected by both selectors (None selects everything)."""
    if labels is not None and not labels.empty():
        meta = obj.get("metadata") or {}
        if not labels.matches(meta.get("labels") or {}):
            return False
    if fields is not None and not fields.empty():
        return fields.matches(object_fields(rt, obj))
    return True
