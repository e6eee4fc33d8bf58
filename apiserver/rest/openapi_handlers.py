"""`/openapi/v2` and `/openapi/v3[/<group-version>]`, built once from
`apimachinery.openapi` and served with ETags so clients cache them."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from aiohttp import web

from apimachinery import errors, openapi

JSON = dict[str, Any]
# openapi_v2.Document{swagger: "2.0"} in protobuf wire format (field 1, a string).
_EMPTY_V2_PROTOBUF = b"\x0a\x032.0"


@cache
def _encoded_v2() -> tuple[bytes, str]:
    body = json.dumps(openapi.v2_document(), separators=(",", ":")).encode()
    return body, hashlib.sha512(body).hexdigest()[:32].upper()


@cache
def _encoded_v3(path: str) -> tuple[bytes, str] | None:
    doc = openapi.v3_document(path)
    if doc is None:
        return None
    body = json.dumps(doc, separators=(",", ":")).encode()
    return body, hashlib.sha512(body).hexdigest()[:32].upper()


def _v3_root() -> JSON:
    paths = {}
    for gv in openapi.v3_paths():
        encoded = _encoded_v3(gv)
        assert encoded is not None
        paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={encoded[1]}"}
    return {"paths": paths}


def _send(request: web.Request, body: bytes, etag: str) -> web.Response:
    quoted = f'"{etag}"'
    if request.headers.get("If-None-Match") == quoted:
        return web.Response(status=304, headers={"ETag": quoted})
    return web.Response(
        body=body,
        content_type="application/json",
        headers={"ETag": quoted, "Cache-Control": "no-cache, private"},
    )


async def serve(request: web.Request, parts: list[str]) -> web.Response:
    if parts == ["v2"] and "protobuf" in request.headers.get("Accept", ""):
        # Clients up to kubectl 1.27 read /openapi/v2 only as gnostic protobuf.
        # They get a valid document without schemas, so they fall back to their
        # compiled-in types (apply works; their `explain` finds nothing).
        return web.Response(
            body=_EMPTY_V2_PROTOBUF,
            headers={"Content-Type": "application/octet-stream"},
        )
    if parts == ["v2"]:
        body, etag = _encoded_v2()
        return _send(request, body, etag)
    if parts == ["v3"]:
        return web.Response(body=json.dumps(_v3_root()).encode(), content_type="application/json")
    if len(parts) >= 2 and parts[0] == "v3":
        encoded = _encoded_v3("/".join(parts[1:]))
        if encoded is not None:
            return _send(request, *encoded)
    raise errors.NotFound(message="the server could not find the requested resource")
