"""Admission of an object into the API: strict decoding, defaults, validation.

`admit` is the one entry point the apiserver calls for every create and update
(REST and gRPC alike). It answers with the object as it will be stored
(Kubernetes JSON with upstream's defaults filled in) or raises:

- `BadRequest` (400) for what cannot be decoded: malformed structure, a wrong
  type, a mismatched apiVersion/kind, a bad quantity or base64 value, an
  unknown field under `field_validation="Strict"`
  (`Pod in version "v1" cannot be handled as a Pod: strict decoding error:
  unknown field "spec.foo"`);
- `Invalid` (422) with one `Cause` per field problem, in upstream's words
  (`metadata.name: Invalid value: "Foo": a lowercase RFC 1123 subdomain ...`),
  including changes to immutable fields on update.

The steps are upstream's: decode (the models of `apimachinery.models`, which
forbid unknown fields), prepare (status reset on create, status kept from the
stored object on update, spec kept on a status write), default
(`apimachinery.defaults`), validate (`apimachinery.validators`). Kinds without
a model are admitted as they are, with only their metadata checked.

Server-owned metadata (resourceVersion, creationTimestamp, generation,
deletionTimestamp) is the apiserver's business, not this module's; the one
exception is a Job created without a uid, which gets one here because its
generated selector names it (the apiserver must keep an existing uid).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from apimachinery import defaults, errors, names, quantity
from apimachinery.fielderrors import ErrorList
from apimachinery.models import MODELS
from apimachinery.models.base import ObjectMeta
from apimachinery.scheme import ResourceType
from apimachinery.validators import STATUS_VALIDATORS, UPDATE_VALIDATORS, VALIDATORS
from apimachinery.validators.common import validate_object_meta, validate_object_meta_update
from apimachinery.validators.core import decode_secret_data

JSON = dict[str, Any]
Operation = Literal["CREATE", "UPDATE"]

# Names each kind's metadata.name must follow (default: DNS-1123 subdomain).
_NAME_RULES = {
    ("v1", "Namespace"): names.dns1123_label_errors,
    ("v1", "Service"): names.dns1035_label_errors,
    ("rbac.authorization.k8s.io/v1", "Role"): names.path_segment_name_errors,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): names.path_segment_name_errors,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): names.path_segment_name_errors,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): names.path_segment_name_errors,
}

# What a kind's status is reset to when it is created (upstream PrepareForCreate).
_STATUS_ON_CREATE: dict[tuple[str, str], JSON] = {
    ("v1", "Service"): {"loadBalancer": {}},
    ("v1", "Namespace"): {"phase": "Active"},
    ("v1", "PersistentVolumeClaim"): {"phase": "Pending"},
    ("v1", "PersistentVolume"): {"phase": "Pending"},
    ("v1", "ResourceQuota"): {},
    ("apps/v1", "Deployment"): {},
    ("apps/v1", "ReplicaSet"): {"replicas": 0},
    ("apps/v1", "StatefulSet"): {"replicas": 0, "availableReplicas": 0},
    ("apps/v1", "DaemonSet"): {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    },
    ("batch/v1", "Job"): {},
    ("batch/v1", "CronJob"): {},
    ("networking.k8s.io/v1", "Ingress"): {"loadBalancer": {}},
}

_FIELD_VALIDATION = ("Strict", "Warn", "Ignore")


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
    `old`; the resourceVersion is the caller's, for the conflict check); for the
    main resource the status comes from `old`, as upstream's update strategies
    do. For `subresource == "scale"` `obj` is an autoscaling/v1 Scale (or the
    object itself) and the answer is `old` with the new `spec.replicas`. Other
    subresources (binding...) pass the whole new object: it is defaulted and
    validated, without the update restrictions of the main resource.
    The input is never modified.
    """
    if not isinstance(obj, dict):
        raise errors.BadRequest(message="the body of the request was in an unknown format")
    mode = field_validation or "Strict"
    if mode not in _FIELD_VALIDATION:
        raise errors.BadRequest(
            message=f'fieldValidation parameter must be one of "Ignore", "Warn", "Strict": {mode}'
        )
    if operation == "UPDATE" and old is None and subresource in ("status", "scale"):
        raise errors.InternalError(message=f"update of {subresource} needs the stored object")
    obj = _copy_json(obj)
    warnings: list[str] = []

    if subresource == "scale" and obj.get("kind") == "Scale":
        return _admit_scale(rt, obj, old or {}, warnings)

    _check_type(rt, obj)
    gvk = (rt.api_version, rt.kind)
    _decode(rt, obj, MODELS.get(gvk), mode, warnings)
    meta = obj.setdefault("metadata", {})
    if not rt.namespaced:
        meta.pop("namespace", None)

    if subresource == "status" and old is not None:
        obj = _status_update(obj, old)
    elif subresource == "scale" and old is not None:
        obj = _scale_from_object(obj, old)
    elif subresource == "" and operation == "UPDATE" and old is not None:
        _keep_stored_status(rt, obj, old)
        _keep_service_cluster_ip(gvk, obj, old)
    elif subresource == "" and operation == "CREATE":
        _reset_status(gvk, obj)

    try:
        defaults.apply(obj)
    except quantity.QuantityError as e:
        raise _undecodable(rt, str(e)) from None
    if operation == "CREATE" and subresource == "" and gvk == ("batch/v1", "Job"):
        _generate_job_selector(obj)
    if operation == "CREATE" and subresource == "" and gvk == ("v1", "Pod"):
        _pod_status_on_create(obj)

    errs = ErrorList()
    validate_object_meta(
        obj["metadata"],
        errs,
        name_fn=_NAME_RULES.get(gvk, names.dns1123_subdomain_errors),
        namespaced=rt.namespaced,
    )
    if subresource == "status":
        status_check = STATUS_VALIDATORS.get(gvk)
        if status_check is not None:
            status_check(obj, errs)
    else:
        check = VALIDATORS.get(gvk)
        if check is not None:
            check(obj, errs)
    if operation == "UPDATE" and old is not None:
        validate_object_meta_update(obj["metadata"], old.get("metadata") or {}, errs)
        update_check = UPDATE_VALIDATORS.get(gvk)
        if update_check is not None and subresource in ("", "scale"):
            update_check(obj, old, errs)
    if errs:
        raise errors.invalid(
            rt.kind, str(obj["metadata"].get("name") or ""), errs.causes, group=rt.group
        )
    return obj, warnings


# --- decoding -------------------------------------------------------------------


def _undecodable(rt: ResourceType, why: str) -> errors.BadRequest:
    return errors.BadRequest(
        message=f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {why}'
    )


def _check_type(rt: ResourceType, obj: JSON) -> None:
    """apiVersion and kind default to the endpoint's, as upstream's decoder does."""
    api_version = obj.setdefault("apiVersion", rt.api_version)
    kind = obj.setdefault("kind", rt.kind)
    if not isinstance(api_version, str) or not isinstance(kind, str):
        raise errors.BadRequest(message="apiVersion and kind must be strings")
    if api_version != rt.api_version:
        raise errors.BadRequest(
            message=f"the API version in the data ({api_version}) does not match the expected "
            f"API version ({rt.api_version})"
        )
    if kind != rt.kind:
        raise errors.BadRequest(
            message=f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
        )
    if "metadata" in obj and not isinstance(obj["metadata"], dict):
        raise _undecodable(
            rt,
            f"json: cannot unmarshal {_json_type(obj['metadata'])} into Go struct field "
            f"{rt.kind}.metadata of type v1.ObjectMeta",
        )


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON data without its `null` members: upstream decodes them
    as unset and never stores them (and this is much faster than copy.deepcopy)."""
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


_GO_TYPES = {
    "string_type": "string",
    "int_type": "int32",
    "int_from_float": "int32",
    "bool_type": "bool",
    "float_type": "float64",
    "list_type": "array",
    "dict_type": "map",
    "model_type": "struct",
    "model_attributes_type": "struct",
}


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def _field_path(
    model: type[BaseModel], loc: tuple[int | str, ...]
) -> tuple[str, str, tuple[int | str, ...], Any]:
    """(owning struct, dotted Go-style field path, loc without union tags, the
    field's annotation) of an error."""
    owner = model.__name__
    cur: type[BaseModel] | None = model
    fields: list[str] = []
    clean: list[int | str] = []
    annotation: Any = None
    for part in loc:
        if isinstance(part, int):
            clean.append(part)
            continue
        if cur is None:
            # A map key, or pydantic's tag of a union member ('int', 'str').
            if clean and isinstance(clean[-1], str) and part in ("int", "str", "float"):
                continue
            clean.append(part)
            continue
        info = cur.model_fields.get(part)
        if info is None:
            info = next(
                (f for f in cur.model_fields.values() if f.alias == part),
                None,
            )
        clean.append(part)
        if info is None:
            cur = None
            continue
        owner = cur.__name__
        fields.append(part)
        annotation = info.annotation
        cur = _model_of(annotation)
    return owner, ".".join(fields), tuple(clean), annotation


def _go_type(error_type: str, annotation: Any) -> str:
    """How upstream's decoder names the expected type (`v1.PodSpec`, `[]v1.Container`)."""
    text = str(annotation)
    if "int | float | str" in text:
        return "resource.Quantity"
    if "int | str" in text:
        return "intstr.IntOrString"
    inner = _model_of(annotation)
    if inner is not None:
        if text.startswith("list[") and error_type == "list_type":
            return f"[]v1.{inner.__name__}"
        if error_type in ("model_type", "model_attributes_type", "dict_type"):
            return f"v1.{inner.__name__}"
    if error_type == "list_type" and "list[str]" in text:
        return "[]string"
    if error_type == "dict_type" and "dict[str, str]" in text:
        return "map[string]string"
    return _GO_TYPES.get(error_type, error_type)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model class inside `X | None`, `list[X]` or `dict[str, X]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _decode(
    rt: ResourceType,
    obj: JSON,
    model: type[BaseModel] | None,
    mode: str,
    warnings: list[str],
) -> None:
    """Strictly decode `obj` in place: unknown fields are refused (Strict), reported
    and dropped (Warn) or dropped (Ignore); a wrong type is always a 400."""
    schema: type[BaseModel] = model or _MetadataOnly
    for _ in range(3):  # unknown fields removed, then decoded again
        try:
            schema.model_validate(obj if model else {"metadata": obj.get("metadata", {})})
            break
        except ValidationError as e:
            unknown: list[tuple[int | str, ...]] = []
            wrong: list[str] = []
            for err in e.errors():
                owner, dotted, loc, annotation = _field_path(schema, tuple(err["loc"]))
                if err["type"] == "extra_forbidden":
                    unknown.append(loc)
                    continue
                go_type = _go_type(err["type"], annotation)
                wrong.append(
                    f"json: cannot unmarshal {_json_type(err.get('input'))} into Go struct "
                    f"field {owner}.{dotted} of type {go_type}"
                )
            if wrong:
                raise _undecodable(rt, sorted(set(wrong))[0]) from None
            listed = [f'unknown field "{_format_loc(loc)}"' for loc in unknown]
            if mode == "Strict":
                raise _undecodable(rt, "strict decoding error: " + ", ".join(listed)) from None
            if mode == "Warn":
                warnings.extend(listed)
            for loc in unknown:
                _delete(obj, loc)
    if rt.kind == "Secret" and rt.group == "":
        bad = decode_secret_data(obj)
        if bad:
            raise _undecodable(rt, bad)
    if rt.kind == "ConfigMap" and rt.group == "":
        bad = decode_secret_data({"data": obj.get("binaryData") or {}})
        if bad:
            raise _undecodable(rt, bad)


class _MetadataOnly(BaseModel):
    """What is decoded of a kind without a model: its metadata."""

    model_config = {"extra": "ignore", "strict": True}
    metadata: ObjectMeta | None = None


def _delete(obj: Any, loc: tuple[int | str, ...]) -> None:
    cur = obj
    for part in loc[:-1]:
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(cur, dict):
        cur.pop(loc[-1], None)


# --- preparing for create and update --------------------------------------------


def _reset_status(gvk: tuple[str, str], obj: JSON) -> None:
    if gvk in _STATUS_ON_CREATE:
        obj["status"] = copy.deepcopy(_STATUS_ON_CREATE[gvk])


def _keep_stored_status(rt: ResourceType, obj: JSON, old: JSON) -> None:
    """A write of the main resource cannot change the status (it has its own endpoint)."""
    if "status" not in rt.subresources:
        return
    if "status" in old:
        obj["status"] = copy.deepcopy(old["status"])
    else:
        obj.pop("status", None)
    if rt.kind == "Namespace" and rt.group == "":
        # Namespace finalizers change through the finalize subresource only.
        spec = obj.setdefault("spec", {})
        if "finalizers" in (old.get("spec") or {}):
            spec["finalizers"] = copy.deepcopy(old["spec"]["finalizers"])


def _keep_service_cluster_ip(gvk: tuple[str, str], obj: JSON, old: JSON) -> None:
    """An update that omits the allocated clusterIP keeps it (rather than being refused)."""
    if gvk != ("v1", "Service"):
        return
    spec, old_spec = obj.setdefault("spec", {}), old.get("spec") or {}
    if not spec.get("clusterIP") and old_spec.get("clusterIP"):
        spec["clusterIP"] = old_spec["clusterIP"]
        if "clusterIPs" in old_spec:
            spec["clusterIPs"] = copy.deepcopy(old_spec["clusterIPs"])
    # As upstream's dropTypeDependentFields: leaving NodePort/LoadBalancer drops
    # the fields only those types may carry, when the client left them as stored.
    if spec.get("type", "ClusterIP") in ("ClusterIP", "ExternalName"):
        for field in ("externalTrafficPolicy", "allocateLoadBalancerNodePorts"):
            if field in spec and spec[field] == old_spec.get(field):
                del spec[field]


def _status_update(obj: JSON, old: JSON) -> JSON:
    """The stored object with the new status, labels and annotations."""
    new = copy.deepcopy(old)
    if "status" in obj:
        new["status"] = obj["status"]
    else:
        new.pop("status", None)
    meta = obj.get("metadata") or {}
    new_meta = new.setdefault("metadata", {})
    for k in ("labels", "annotations", "resourceVersion"):
        if k in meta:
            new_meta[k] = meta[k]
    return new


def _scale_from_object(obj: JSON, old: JSON) -> JSON:
    new = copy.deepcopy(old)
    replicas = (obj.get("spec") or {}).get("replicas")
    if replicas is not None:
        new.setdefault("spec", {})["replicas"] = replicas
    rv = (obj.get("metadata") or {}).get("resourceVersion")
    if rv:
        new.setdefault("metadata", {})["resourceVersion"] = rv
    return new


def _admit_scale(
    rt: ResourceType, scale: JSON, old: JSON, warnings: list[str]
) -> tuple[JSON, list[str]]:
    """An autoscaling/v1 Scale applied to the stored object (spec.replicas only)."""
    spec = scale.get("spec") or {}
    replicas = spec.get("replicas", 0)
    name = str((scale.get("metadata") or {}).get("name") or "")
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise errors.BadRequest(
            message='Scale in version "v1" cannot be handled as a Scale: json: cannot '
            f"unmarshal {_json_type(replicas)} into Go struct field ScaleSpec.spec.replicas "
            "of type int32"
        )
    if replicas < 0:
        errs = ErrorList()
        errs.invalid("spec.replicas", replicas, "must be greater than or equal to 0")
        raise errors.invalid("Scale", name, errs.causes, group="autoscaling")
    new = copy.deepcopy(old)
    new.setdefault("spec", {})["replicas"] = replicas
    rv = (scale.get("metadata") or {}).get("resourceVersion")
    if rv:
        new.setdefault("metadata", {})["resourceVersion"] = rv
    admitted, more = admit(rt, new, operation="UPDATE", old=old)
    return admitted, warnings + more


def _generate_job_selector(obj: JSON) -> None:
    """Upstream selects a Job's pods by its uid unless `manualSelector` is true."""
    spec = obj.setdefault("spec", {})
    if spec.get("manualSelector") is True:
        return
    meta = obj["metadata"]
    uid = meta.get("uid") or str(uuid.uuid4())
    meta["uid"] = uid
    name = str(meta.get("name") or meta.get("generateName") or "")
    template = spec.setdefault("template", {})
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    labels.setdefault("batch.kubernetes.io/controller-uid", uid)
    labels.setdefault("batch.kubernetes.io/job-name", name)
    labels.setdefault("controller-uid", uid)
    labels.setdefault("job-name", name)
    selector = spec.setdefault("selector", {})
    selector.setdefault("matchLabels", {}).setdefault("batch.kubernetes.io/controller-uid", uid)


def _pod_status_on_create(obj: JSON) -> None:
    try:
        qos = defaults.qos_class(obj.get("spec") or {})
    except quantity.QuantityError:
        qos = "BestEffort"  # the bad quantity is reported by validation
    obj["status"] = {"phase": "Pending", "qosClass": qos}
