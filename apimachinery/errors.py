"""API errors, translated once at each boundary.

Every failure a client can see is an `APIError` carrying what Kubernetes puts
in a `Status` object: reason, HTTP code, message and details (name, group,
kind, field causes). The apiserver raises these; the gRPC layer carries them as
a status code plus the Status JSON in the details string; the REST layer
answers with the Status object itself; the client turns either back into the
same exception class. Reconcilers only need to know `is_retryable`.

Messages follow upstream's wording, because users compare what kubectl prints
with what they read in the Kubernetes documentation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

import grpc


@dataclass(frozen=True)
class Cause:
    """One field problem, as in `Status.details.causes`."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


@dataclass
class APIError(Exception):
    """An error the API returns to its client, as a Kubernetes `Status`."""

    message: str
    name: str = ""
    group: str = ""
    kind: str = ""
    causes: list[Cause] = field(default_factory=list)
    retry_after_seconds: int = 0

    code: ClassVar[int] = 500
    reason: ClassVar[str] = "InternalError"
    grpc_code: ClassVar[grpc.StatusCode] = grpc.StatusCode.INTERNAL

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    @property
    def is_retryable(self) -> bool:
        """Whether retrying the same call later may succeed (conflict, unavailable...)."""
        return isinstance(self, Conflict | ServiceUnavailable | Timeout | TooManyRequests)

    def to_status(self) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after_seconds:
            details["retryAfterSeconds"] = self.retry_after_seconds
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if details:
            status["details"] = details
        return status

    def to_json(self) -> str:
        return json.dumps(self.to_status(), separators=(",", ":"))

    @staticmethod
    def from_status(status: dict[str, Any]) -> APIError:
        """The exception for a Status object, by its reason (then its code)."""
        reason = str(status.get("reason") or "")
        code = int(status.get("code") or 500)
        cls = _BY_REASON.get(reason) or _BY_CODE.get(code) or InternalError
        details = status.get("details") or {}
        causes = [
            Cause(
                field=str(c.get("field", "")),
                message=str(c.get("message", "")),
                reason=str(c.get("reason", "")),
            )
            for c in details.get("causes") or []
        ]
        return cls(
            message=str(status.get("message") or reason or "unknown error"),
            name=str(details.get("name", "")),
            group=str(details.get("group", "")),
            kind=str(details.get("kind", "")),
            causes=causes,
            retry_after_seconds=int(details.get("retryAfterSeconds") or 0),
        )

    @staticmethod
    def from_grpc(code: grpc.StatusCode, details: str | None) -> APIError:
        """The exception for a failed gRPC call: the Status JSON when the
        apiserver sent one, otherwise a transport error mapped by code."""
        if details:
            try:
                status = json.loads(details)
            except ValueError:
                status = None
            if isinstance(status, dict) and status.get("kind") == "Status":
                return APIError.from_status(status)
        message = details or code.name.lower()
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
            return ServiceUnavailable(f"the apiserver is unavailable: {message}")
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return Timeout(f"the request timed out: {message}")
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return RequestEntityTooLarge(f"Request entity too large: {message}")
        cls = _BY_GRPC.get(code, InternalError)
        return cls(message=message)


class BadRequest(APIError):
    code = 400
    reason = "BadRequest"
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class Unauthorized(APIError):
    code = 401
    reason = "Unauthorized"
    grpc_code = grpc.StatusCode.UNAUTHENTICATED


class Forbidden(APIError):
    code = 403
    reason = "Forbidden"
    grpc_code = grpc.StatusCode.PERMISSION_DENIED


class NotFound(APIError):
    code = 404
    reason = "NotFound"
    grpc_code = grpc.StatusCode.NOT_FOUND


class MethodNotAllowed(APIError):
    code = 405
    reason = "MethodNotAllowed"
    grpc_code = grpc.StatusCode.UNIMPLEMENTED


class AlreadyExists(APIError):
    code = 409
    reason = "AlreadyExists"
    grpc_code = grpc.StatusCode.ALREADY_EXISTS


class Conflict(APIError):
    code = 409
    reason = "Conflict"
    grpc_code = grpc.StatusCode.ABORTED


class Gone(APIError):
    """A resourceVersion older than what etcd still holds (after compaction)."""

    code = 410
    reason = "Expired"
    grpc_code = grpc.StatusCode.OUT_OF_RANGE


class RequestEntityTooLarge(APIError):
    code = 413
    reason = "RequestEntityTooLarge"
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class UnsupportedMediaType(APIError):
    code = 415
    reason = "UnsupportedMediaType"
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class Invalid(APIError):
    code = 422
    reason = "Invalid"
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class TooManyRequests(APIError):
    code = 429
    reason = "TooManyRequests"
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class InternalError(APIError):
    code = 500
    reason = "InternalError"
    grpc_code = grpc.StatusCode.INTERNAL


class ServiceUnavailable(APIError):
    code = 503
    reason = "ServiceUnavailable"
    grpc_code = grpc.StatusCode.UNAVAILABLE


class Timeout(APIError):
    code = 504
    reason = "Timeout"
    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED


_ALL: tuple[type[APIError], ...] = (
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    AlreadyExists,
    Conflict,
    Gone,
    RequestEntityTooLarge,
    UnsupportedMediaType,
    Invalid,
    TooManyRequests,
    InternalError,
    ServiceUnavailable,
    Timeout,
)
_BY_REASON: dict[str, type[APIError]] = {c.reason: c for c in _ALL}
_BY_REASON["Gone"] = Gone
_BY_CODE: dict[int, type[APIError]] = {}
for _cls in _ALL:
    _BY_CODE.setdefault(_cls.code, _cls)
_BY_GRPC: dict[grpc.StatusCode, type[APIError]] = {}
for _cls in _ALL:
    _BY_GRPC.setdefault(_cls.grpc_code, _cls)


# Constructors with upstream's wording. `resource` is the plural resource name
# qualified by group as kubectl prints it: "pods", "deployments.apps".


def qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str, *, group: str = "") -> NotFound:
    return NotFound(
        message=f'{qualified(resource, group)} "{name}" not found',
        name=name,
        group=group,
        kind=resource,
    )


def already_exists(resource: str, name: str, *, group: str = "") -> AlreadyExists:
    return AlreadyExists(
        message=f'{qualified(resource, group)} "{name}" already exists',
        name=name,
        group=group,
        kind=resource,
    )


_MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def conflict(resource: str, name: str, *, group: str = "", why: str = "") -> Conflict:
    why = why or _MODIFIED
    return Conflict(
        message=f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
        name=name,
        group=group,
        kind=resource,
    )


def invalid(kind: str, name: str, causes: list[Cause], *, group: str = "") -> Invalid:
    """422 with field causes: `Pod "x" is invalid: metadata.name: Invalid value: ...`."""
    if len(causes) == 1:
        summary = f"{causes[0].field}: {causes[0].message}"
    else:
        summary = "[" + ", ".join(f"{c.field}: {c.message}" for c in causes) + "]"
    qualified_kind = f"{kind}.{group}" if group else kind
    return Invalid(
        message=f'{qualified_kind} "{name}" is invalid: {summary}',
        name=name,
        group=group,
        kind=kind,
        causes=causes,
    )


def gone(requested: int | str, oldest: int | str = "") -> Gone:
    """410: the requested resourceVersion is compacted or out of the cache's window."""
    suffix = f" ({oldest})" if oldest != "" else ""
    return Gone(message=f"too old resource version: {requested}{suffix}")


def too_large(limit_bytes: int) -> RequestEntityTooLarge:
    return RequestEntityTooLarge(message=f"Request entity too large: limit is {limit_bytes}")
