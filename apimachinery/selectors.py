"""Label and field selectors, as in `kubectl get -l app=web,tier!=db` and
`--field-selector status.phase=Running`.

`parse_label_selector` understands the full upstream syntax (=, ==, !=, in,
notin, exists, !exists); `label_selector_from_dict` turns a LabelSelector
object (matchLabels + matchExpressions) into the same thing.
`parse_field_selector` understands =, == and !=; `object_fields` gives the
fields a resource supports for selection (metadata.name, metadata.namespace,
and per kind e.g. spec.nodeName and status.phase for pods); selecting on any
other field is a 400 `field label not supported: <field>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from apimachinery import errors
from apimachinery.scheme import ResourceType


class Selector(Protocol):
    def matches(self, values: Mapping[str, str]) -> bool: ...

    def empty(self) -> bool: ...


def parse_label_selector(text: str) -> Selector:
    """A label selector from its string form; BadRequest when malformed."""
    raise errors.InternalError("label selectors are not implemented yet")


def label_selector_from_dict(selector: Mapping[str, Any] | None) -> Selector:
    """A selector from a LabelSelector object (matchLabels, matchExpressions)."""
    raise errors.InternalError("label selectors are not implemented yet")


def parse_field_selector(rt: ResourceType, text: str) -> Selector:
    """A field selector for `rt`; BadRequest for a malformed or unsupported field."""
    raise errors.InternalError("field selectors are not implemented yet")


def object_fields(rt: ResourceType, obj: Mapping[str, Any]) -> dict[str, str]:
    """The selectable fields of `obj` and their values as strings."""
    raise errors.InternalError("field selectors are not implemented yet")
