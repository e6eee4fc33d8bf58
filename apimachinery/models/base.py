"""The building blocks every Kubernetes object shares: ObjectMeta, ListMeta,
OwnerReference, LabelSelector, object references and conditions.

Models exist for strict decoding (an unknown field is an error naming its full
path, a wrong type a 400) and for the OpenAPI documents the REST layer
publishes. Field names are Kubernetes' own JSON names (camelCase, `podIP`), so
the JSON schema pydantic generates is the one kubectl expects; every field is
optional at this level because "required" is a validation question answered
with upstream's 422 wording in `apimachinery.validation`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# JSON values the API stores as is (free-form fields, rare volume sources).
FreeForm = dict[str, Any]
# `intstr.IntOrString`: `targetPort: 8080` or `targetPort: http`.
IntOrString = int | str
# `resource.Quantity`: YAML gives numbers (`cpu: 1`) as well as strings (`"500m"`).
Quantity = int | float | str
ResourceList = dict[str, Quantity]


def field(description: str, **kwargs: Any) -> Any:
    """An optional field with its OpenAPI description."""
    return Field(default=None, description=description, **kwargs)


class KModel(BaseModel):
    """Base of every API model: unknown fields forbidden, no type coercion
    (`"3"` is not an int, as with Go's JSON decoder)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        populate_by_name=True,
        protected_namespaces=(),
        use_attribute_docstrings=False,
        defer_build=True,
    )


class OwnerReference(KModel):
    """Identifies an owning object; the garbage collector deletes dependents of
    a deleted owner."""

    apiVersion: str | None = field("API version of the referent.")
    kind: str | None = field("Kind of the referent.")
    name: str | None = field("Name of the referent.")
    uid: str | None = field("UID of the referent.")
    controller: bool | None = field("If true, this reference points to the managing controller.")
    blockOwnerDeletion: bool | None = field(
        "If true, the owner cannot be deleted from storage until this reference is removed."
    )


class ManagedFieldsEntry(KModel):
    """Which manager owns which fields (server-side apply bookkeeping)."""

    apiVersion: str | None = None
    fieldsType: str | None = None
    fieldsV1: FreeForm | None = None
    manager: str | None = None
    operation: str | None = None
    subresource: str | None = None
    time: str | None = None


class ObjectMeta(KModel):
    """Standard object's metadata."""

    name: str | None = field("Name must be unique within a namespace.")
    generateName: str | None = field(
        "Optional prefix used by the server to generate a unique name if name is not provided."
    )
    namespace: str | None = field(
        "Namespace defines the space within which each name must be unique."
    )
    selfLink: str | None = None
    uid: str | None = field("UID is the unique in time and space value for this object.")
    resourceVersion: str | None = field(
        "An opaque value that represents the internal version of this object."
    )
    generation: int | None = field(
        "A sequence number representing a specific generation of the desired state."
    )
    creationTimestamp: str | None = field("Time at which this object was created (RFC 3339).")
    deletionTimestamp: str | None = field(
        "RFC 3339 date and time at which this resource will be deleted."
    )
    deletionGracePeriodSeconds: int | None = field(
        "Number of seconds allowed for this object to gracefully terminate."
    )
    labels: dict[str, str] | None = field(
        "Map of string keys and values that can be used to organize and categorize objects."
    )
    annotations: dict[str, str] | None = field(
        "Unstructured key value map stored with a resource for arbitrary metadata."
    )
    ownerReferences: list[OwnerReference] | None = field("List of objects depended by this object.")
    finalizers: list[str] | None = field(
        "Must be empty before the object is deleted from the registry."
    )
    managedFields: list[ManagedFieldsEntry] | None = field(
        "Maps workflow-id and version to the set of fields that are managed by that workflow."
    )


class ListMeta(KModel):
    """Metadata of a list: its resourceVersion and continue token."""

    selfLink: str | None = None
    resourceVersion: str | None = field("The resourceVersion the list was read at.")
    continue_: str | None = Field(
        default=None, alias="continue", description="Token to retrieve the next page of results."
    )
    remainingItemCount: int | None = None


class LabelSelectorRequirement(KModel):
    key: str | None = field("The label key that the selector applies to.")
    operator: str | None = field("In, NotIn, Exists or DoesNotExist.")
    values: list[str] | None = field("An array of string values.")


class LabelSelector(KModel):
    """A label query over a set of resources; the result of matchLabels and
    matchExpressions are ANDed. An empty label selector matches all objects."""

    matchLabels: dict[str, str] | None = field("A map of {key,value} pairs.")
    matchExpressions: list[LabelSelectorRequirement] | None = field(
        "A list of label selector requirements."
    )


class ObjectReference(KModel):
    """A reference to an object of any kind."""

    apiVersion: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resourceVersion: str | None = None
    fieldPath: str | None = None


class LocalObjectReference(KModel):
    name: str | None = field("Name of the referent.")


class TypedLocalObjectReference(KModel):
    apiGroup: str | None = None
    kind: str | None = None
    name: str | None = None


class Condition(KModel):
    """metav1.Condition: a standard condition of a resource's status."""

    type: str | None = field("Type of condition in CamelCase.")
    status: str | None = field("Status of the condition, one of True, False, Unknown.")
    observedGeneration: int | None = None
    lastTransitionTime: str | None = None
    reason: str | None = None
    message: str | None = None


class TypeMeta(KModel):
    apiVersion: str | None = field("APIVersion defines the versioned schema of this object.")
    kind: str | None = field("Kind is a string value representing the REST resource.")


class APIObject(TypeMeta):
    """Base of top-level objects: apiVersion, kind, metadata."""

    metadata: ObjectMeta | None = field("Standard object's metadata.")
