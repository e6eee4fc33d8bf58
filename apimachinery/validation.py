"""Admission of an object into the API: strict decoding, defaults, validation.

`admit` is the one entry point the apiserver calls for every create and update
(REST and gRPC alike). It answers with the object as it will be stored
(Kubernetes JSON with upstream's defaults filled in) or raises:

- `BadRequest` (400) for what cannot be decoded: malformed structure, a wrong
  type, a missing or mismatched apiVersion/kind, an unknown field under
  `field_validation="Strict"` (`strict decoding error: unknown field "spec.foo"`);
- `Invalid` (422) with one `Cause` per field problem, in upstream's words
  (`metadata.name: Invalid value: "Foo": a lowercase RFC 1123 subdomain ...`),
  including changes to immutable fields on update.

Server-owned metadata (uid, resourceVersion, creationTimestamp, generation,
deletionTimestamp) is the apiserver's business, not this module's.
"""

from __future__ import annotations

from typing import Any, Literal

from apimachinery import errors
from apimachinery.scheme import ResourceType

JSON = dict[str, Any]
Operation = Literal["CREATE", "UPDATE"]


def admit(
    rt: ResourceType,
    obj: JSON,
    *,
    operation: Operation,
    old: JSON | None = None,
    subresource: str = "",
    field_validation: str = "Strict",
) -> tuple[JSON, list[str]]:
    """Decode, default and validate `obj` for `rt`; return (object, warnings).

    On UPDATE `old` is the stored object. For `subresource == "status"` only the
    status may change (spec and metadata other than labels/annotations come from
    `old`); for the main resource the status comes from `old`, as upstream's
    update strategies do.
    """
    raise errors.InternalError("admission is not implemented yet")
