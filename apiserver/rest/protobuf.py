"""Decoding of `application/vnd.kubernetes.protobuf` request bodies into
Kubernetes JSON, so kubectl's typed clients (which send protobuf) work.

A body is the magic `k8s\\x00` and a `runtime.Unknown` envelope (typeMeta,
raw); `raw` is the object's message, decoded with the field table of
`protobuf_schema`. Go's protobuf marshaller writes every non-pointer field,
zero or not, so empty strings and zero timestamps are dropped to give the JSON
the client meant. Responses stay JSON (clients accept it).
"""

from __future__ import annotations

import base64
import datetime
import json
import struct
from typing import Any

from apimachinery import errors
from apiserver.rest.protobuf_schema import MESSAGES

MAGIC = b"k8s\x00"
JSON = dict[str, Any]

_GROUP_PACKAGES = {
    "": "core",
    "apps": "apps",
    "batch": "batch",
    "policy": "policy",
    "authorization.k8s.io": "authorization",
    "authentication.k8s.io": "authentication",
    "scheduling.k8s.io": "scheduling",
    "networking.k8s.io": "networking",
    "rbac.authorization.k8s.io": "rbac",
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, raw value) in order."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _signed(value: int, bits: int = 64) -> int:
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def _time(data: bytes, micro: bool) -> str | None:
    seconds = nanos = 0
    for number, _, value in _fields(data):
        if number == 1:
            seconds = _signed(value)
        elif number == 2:
            nanos = _signed(value, 32)
    if seconds == 0 and nanos == 0:
        return None
    t = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    if micro:
        return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(data: bytes) -> str:
    ns = 0
    for number, _, value in _fields(data):
        if number == 1:
            ns = _signed(value)
    return f"{ns / 1e9:g}s"


def _scalar(type_: str, wire: int, value: Any) -> Any:
    if type_ == "string":
        return bytes(value).decode("utf-8")
    if type_ == "bytes":
        return base64.b64encode(bytes(value)).decode()
    if type_ == "bool":
        return bool(value)
    if type_ in ("int32", "int64"):
        return _signed(value, 32 if type_ == "int32" else 64)
    if type_ in ("uint32", "uint64"):
        return value
    if type_ == "double" and wire == 1:
        return struct.unpack("<d", value)[0]
    return value


def _special(type_: str, data: bytes) -> Any:
    if type_ in ("Time", "MicroTime"):
        return _time(data, type_ == "MicroTime")
    if type_ == "Duration":
        return _duration(data)
    if type_ == "Quantity":
        for number, _, value in _fields(data):
            if number == 1:
                return bytes(value).decode()
        return "0"
    if type_ == "IntOrString":
        kind, int_val, str_val = 0, 0, ""
        for number, _, value in _fields(data):
            if number == 1:
                kind = value
            elif number == 2:
                int_val = _signed(value, 32)
            elif number == 3:
                str_val = bytes(value).decode()
        return str_val if kind == 1 else int_val
    if type_ in ("RawExtension", "FieldsV1"):
        for number, _, value in _fields(data):
            if number == 1 and value:
                return json.loads(bytes(value))
        return None
    return None


# Embedded Go structs: their fields sit directly in the parent's JSON.
_INLINE = {
    "volumeSource",
    "handler",
    "ingressRuleValue",
    "persistentVolumeSource",
    "ephemeralContainerCommon",
}

# Optional (pointer) fields in Go, whose explicit zero/false must be kept.
_POINTERS = {
    "replicas",
    "completions",
    "parallelism",
    "backoffLimit",
    "backoffLimitPerIndex",
    "maxFailedIndexes",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "automountServiceAccountToken",
    "enableServiceLinks",
    "shareProcessNamespace",
    "suspend",
    "immutable",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
    "revisionHistoryLimit",
    "progressDeadlineSeconds",
    "allowPrivilegeEscalation",
    "readOnlyRootFilesystem",
    "runAsNonRoot",
    "runAsUser",
    "runAsGroup",
    "fsGroup",
    "privileged",
    "gracePeriodSeconds",
    "optional",
    "defaultMode",
    "mode",
    "ttlSecondsAfterFinished",
    "startingDeadlineSeconds",
    "expirationSeconds",
    "priority",
    "hostUsers",
    "setHostnameAsFQDN",
    "publishNotReadyAddresses",
    "allocateLoadBalancerNodePorts",
}

_SPECIAL = {"Time", "MicroTime", "Duration", "Quantity", "IntOrString", "RawExtension", "FieldsV1"}


def _value(type_: str, wire: int, raw: Any) -> Any:
    if type_ in _SPECIAL:
        return _special(type_, bytes(raw))
    if type_ in MESSAGES:
        return decode_message(type_, bytes(raw))
    return _scalar(type_, wire, raw)


def _packed(type_: str, data: bytes) -> list[Any]:
    out = []
    pos = 0
    while pos < len(data):
        v, pos = _varint(data, pos)
        out.append(_scalar(type_, 0, v))
    return out


def decode_message(name: str, data: bytes) -> JSON:
    table = MESSAGES[name]
    out: JSON = {}
    for number, wire, raw in _fields(data):
        spec = table.get(number)
        if spec is None:
            continue
        field, card, type_ = spec
        if type_ == "skip":
            continue
        if card == "m":
            key = val = None
            for n, w, v in _fields(bytes(raw)):
                if n == 1:
                    key = bytes(v).decode()
                elif n == 2:
                    val = _value(type_, w, v)
            if key is not None:
                out.setdefault(field, {})[key] = "" if val is None and type_ == "string" else val
        elif card == "r":
            if wire == 2 and type_ in ("int32", "int64", "bool"):
                out.setdefault(field, []).extend(_packed(type_, bytes(raw)))
            else:
                out.setdefault(field, []).append(_value(type_, wire, raw))
        else:
            value = _value(type_, wire, raw)
            if value is None or value == "":
                continue
            if (value is False or value == 0) and field not in _POINTERS:
                continue  # a Go zero value: JSON would have omitted it
            if field in _INLINE and isinstance(value, dict):
                out.update(value)  # an embedded Go struct: inlined in JSON
                continue
            out[field] = value
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for k in ("generation", "deletionGracePeriodSeconds"):
            if meta.get(k) == 0:
                meta.pop(k)
    return out


def decode(body: bytes) -> JSON:
    """The JSON object a protobuf request body carries (400 when it cannot be read)."""
    if not body.startswith(MAGIC):
        raise errors.BadRequest(message="protobuf body without the k8s magic prefix")
    try:
        envelope = {n: v for n, _, v in _fields(body[len(MAGIC) :])}
        api_version = kind = ""
        for n, _, v in _fields(bytes(envelope.get(1, b""))):
            if n == 1:
                api_version = bytes(v).decode()
            elif n == 2:
                kind = bytes(v).decode()
        group, _, version = api_version.rpartition("/")
        package = _GROUP_PACKAGES.get(group)
        name = f"{package}.{version}.{kind}"
        if package is None or name not in MESSAGES:
            raise errors.UnsupportedMediaType(
                message=f"kubelab cannot decode {kind} ({api_version}) from protobuf; "
                "send it as application/json"
            )
        obj = decode_message(name, bytes(envelope.get(2, b"")))
    except (ValueError, UnicodeDecodeError, IndexError) as e:
        raise errors.BadRequest(message=f"unable to decode the protobuf body: {e}") from None
    return {"apiVersion": api_version, "kind": kind, **obj}
