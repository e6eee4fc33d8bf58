"""The OpenAPI documents the REST API publishes, built from the pydantic models.

kubectl reads them for three things: `kubectl explain` (the schemas, found by
their `x-kubernetes-group-version-kind`), strategic merge patches computed by
`kubectl apply` (`x-kubernetes-patch-merge-key` / `-strategy` on lists), and
whether the server validates fields itself (the `fieldValidation` query
parameter on each kind's PATCH operation; when present kubectl sends
`fieldValidation=Strict` and leaves validation to us).

`v3_document("api/v1")` gives one group-version's OpenAPI 3.0 document,
`v3_paths()` the group-versions served, `v2_document()` the whole API in
Swagger 2.0. Schemas are pydantic's JSON schema rewritten the way upstream's
look: `T | None` is just T, references carry their description through
`allOf`, int-or-string and quantities have their upstream formats.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from apimachinery import models, patch, scheme
from apimachinery.scheme import ResourceType

JSON = dict[str, Any]
_V3_REF = "#/components/schemas/"

# Fields upstream marks required (kubectl explain shows "-required-").
_REQUIRED: dict[str, tuple[str, ...]] = {
    "PodSpec": ("containers",),
    "Container": ("name",),
    "ContainerPort": ("containerPort",),
    "EnvVar": ("name",),
    "Volume": ("name",),
    "VolumeMount": ("name", "mountPath"),
    "KeyToPath": ("key", "path"),
    "ConfigMapKeySelector": ("key",),
    "SecretKeySelector": ("key",),
    "HTTPGetAction": ("port",),
    "TCPSocketAction": ("port",),
    "ServicePort": ("port",),
    "DeploymentSpec": ("selector", "template"),
    "ReplicaSetSpec": ("selector",),
    "StatefulSetSpec": ("selector", "template"),
    "DaemonSetSpec": ("selector", "template"),
    "JobSpec": ("template",),
    "CronJobSpec": ("schedule", "jobTemplate"),
    "LabelSelectorRequirement": ("key", "operator"),
    "OwnerReference": ("apiVersion", "kind", "name", "uid"),
    "PolicyRule": ("verbs",),
    "RoleRef": ("apiGroup", "kind", "name"),
    "Subject": ("kind", "name"),
    "RoleBinding": ("roleRef",),
    "ClusterRoleBinding": ("roleRef",),
    "RoleList": ("items",),
    "ClusterRoleList": ("items",),
    "RoleBindingList": ("items",),
    "ClusterRoleBindingList": ("items",),
    "SelfSubjectRulesReview": ("spec",),
    "ResourceRule": ("verbs",),
    "NonResourceRule": ("verbs",),
    "SubjectRulesReviewStatus": ("resourceRules", "nonResourceRules", "incomplete"),
}

# Models of list fields whose merge key depends on where the list sits.
_CONTAINER_MODELS = {"Container", "EphemeralContainer"}


def _parent_for(model: str) -> str:
    if model in _CONTAINER_MODELS:
        return "containers"
    if model == "ServiceSpec":
        return "spec"
    if model.endswith("Status"):
        return "status"
    return model[:1].lower() + model[1:]


def _unwrap(text: str) -> str:
    """A description from a wrapped docstring as upstream writes it: one line per
    paragraph (kubectl explain wraps it again for the terminal)."""
    paragraphs = text.split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def _simplify(schema: Any) -> Any:
    """Upstream-looking schema: no nulls in anyOf, no titles, refs in allOf."""
    if isinstance(schema, list):
        return [_simplify(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _simplify(v) for k, v in schema.items() if k not in ("title", "default")}
    if isinstance(out.get("description"), str):
        out["description"] = _unwrap(out["description"])
    any_of = out.get("anyOf")
    if isinstance(any_of, list):
        options = [o for o in any_of if o != {"type": "null"}]
        types = sorted(str(o.get("type")) for o in options if isinstance(o, dict))
        del out["anyOf"]
        if len(options) == 1:
            out = {**options[0], **out}
        elif types == ["integer", "string"]:
            out.update({"type": "string", "format": "int-or-string"})
            out["x-kubernetes-int-or-string"] = True
        elif set(types) <= {"integer", "number", "string"}:
            out.update({"type": "string", "format": "quantity"})
            out["x-kubernetes-int-or-string"] = True
        elif options:
            out["anyOf"] = options
    if out.get("additionalProperties") is False:
        del out["additionalProperties"]
    if "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out["allOf"] = [{"$ref": ref}]
    return out


@cache
def _schemas() -> dict[str, JSON]:
    """Component schemas by model name (refs in OpenAPI v3 form)."""
    kinds = {**models.MODELS, **models.LIST_MODELS}
    model_list: list[type[BaseModel]] = list(kinds.values())
    _, top = models_json_schema(
        [(m, "validation") for m in model_list], ref_template=_V3_REF + "{model}"
    )
    defs: dict[str, JSON] = {k: _simplify(v) for k, v in top.get("$defs", {}).items()}
    for name, schema in defs.items():
        parent = _parent_for(name)
        for field_name, prop in (schema.get("properties") or {}).items():
            ref = (prop.get("allOf") or [{}])[0].get("$ref", "")
            target = defs.get(ref.removeprefix(_V3_REF)) if ref else None
            if target is not None and target.get("description") == prop.get("description"):
                del prop["description"]  # kubectl explain would print it twice
            if prop.get("type") != "array":
                continue
            key = patch.merge_key(field_name, parent)
            if key is not None:
                prop["x-kubernetes-patch-merge-key"] = key
                prop["x-kubernetes-patch-strategy"] = "merge"
                prop["x-kubernetes-list-type"] = "map"
                prop["x-kubernetes-list-map-keys"] = [key]
            elif field_name in ("finalizers",):
                prop["x-kubernetes-patch-strategy"] = "merge"
                prop["x-kubernetes-list-type"] = "set"
    for model_name, required in _REQUIRED.items():
        props = (defs.get(model_name) or {}).get("properties") or {}
        present = [f for f in required if f in props]
        if present:
            defs[model_name]["required"] = present
    for (api_version, kind), model in kinds.items():
        name = model.__name__
        if name not in defs:
            continue
        group, _, version = api_version.rpartition("/")
        defs[name]["x-kubernetes-group-version-kind"] = [
            {"group": group, "version": version, "kind": kind}
        ]
    # Kinds served without a model: a permissive schema so they still resolve.
    for rt in scheme.all_resources():
        if (rt.api_version, rt.kind) in models.MODELS:
            continue
        defs.setdefault(
            rt.kind,
            {
                "type": "object",
                "description": f"{rt.kind} ({rt.api_version}).",
                "properties": {
                    "apiVersion": {"type": "string", "description": "APIVersion of the object."},
                    "kind": {"type": "string", "description": "Kind of the object."},
                    "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
                "x-kubernetes-preserve-unknown-fields": True,
                "x-kubernetes-group-version-kind": [
                    {"group": rt.group, "version": rt.version, "kind": rt.kind}
                ],
            },
        )
    return defs


def _model_name(rt: ResourceType) -> str:
    model = models.MODELS.get((rt.api_version, rt.kind))
    return model.__name__ if model is not None else rt.kind


def _list_model_name(rt: ResourceType) -> str:
    """The schema a list answers with: the List kind's own when modelled."""
    model = models.LIST_MODELS.get((rt.api_version, rt.list_kind))
    return model.__name__ if model is not None else _model_name(rt)


def _query(name: str, description: str, type_: str = "string") -> JSON:
    return {"name": name, "in": "query", "description": description, "schema": {"type": type_}}


_WRITE_PARAMS = [
    _query("dryRun", "When present, indicates that modifications should not be persisted."),
    _query("fieldManager", "fieldManager is a name associated with the actor or entity."),
    _query(
        "fieldValidation",
        "fieldValidation instructs the server on how to handle objects in the request "
        "containing unknown or duplicate fields (Ignore, Warn, Strict).",
    ),
]
_LIST_PARAMS = [
    _query("labelSelector", "A selector to restrict the list of returned objects by labels."),
    _query("fieldSelector", "A selector to restrict the list of returned objects by fields."),
    _query("limit", "The maximum number of responses to return.", "integer"),
    _query("continue", "The continue option from a previous list call."),
    _query("resourceVersion", "Where the list or watch starts."),
    _query("watch", "Watch for changes and return them as a stream.", "boolean"),
]


def _op(rt: ResourceType, action: str, op_id: str, ref: str, params: list[JSON]) -> JSON:
    return {
        "description": f"{action} {rt.kind}",
        "operationId": f"{op_id}{rt.kind}",
        "parameters": params,
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": {"$ref": ref}}},
            },
            "401": {"description": "Unauthorized"},
        },
        "tags": [rt.group or "core"],
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": rt.group,
            "version": rt.version,
            "kind": rt.kind,
        },
    }


def _paths(rt: ResourceType, ref: str, list_ref: str) -> dict[str, JSON]:
    prefix = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    scope = f"{prefix}/namespaces/{{namespace}}" if rt.namespaced else prefix
    path_params = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
    if rt.namespaced:
        path_params.append(
            {"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}}
        )
    collection: JSON = {}
    item: JSON = {}
    verbs = set(rt.verbs)
    if "list" in verbs:
        collection["get"] = _op(rt, "list", "list", list_ref, _LIST_PARAMS)
    if "create" in verbs:
        collection["post"] = _op(rt, "post", "create", ref, _WRITE_PARAMS)
    if "deletecollection" in verbs:
        collection["delete"] = _op(rt, "deletecollection", "deleteCollection", ref, _LIST_PARAMS)
    if "get" in verbs:
        item["get"] = _op(rt, "get", "read", ref, [])
    if "update" in verbs:
        item["put"] = _op(rt, "put", "replace", ref, _WRITE_PARAMS)
    if "patch" in verbs:
        force = _query("force", "Force is going to force Apply requests.", "boolean")
        item["patch"] = _op(rt, "patch", "patch", ref, [*_WRITE_PARAMS, force])
        item["patch"]["requestBody"] = {
            "content": {
                t: {"schema": {"type": "object"}}
                for t in (
                    patch.JSON_PATCH,
                    patch.MERGE_PATCH,
                    patch.STRATEGIC_MERGE_PATCH,
                    patch.APPLY_PATCH,
                )
            }
        }
    if "delete" in verbs:
        item["delete"] = _op(rt, "delete", "delete", ref, [])
    out: dict[str, JSON] = {}
    base = f"{scope}/{rt.resource}"
    if collection:
        if rt.namespaced:
            collection["parameters"] = [path_params[1]]
        out[base] = collection
    if item:
        item["parameters"] = path_params
        out[f"{base}/{{name}}"] = item
    return out


def v3_paths() -> list[str]:
    """`api/v1`, `apis/apps/v1`...: the group-versions with a v3 document."""
    seen: list[str] = []
    for rt in scheme.all_resources():
        gv = f"apis/{rt.group}/{rt.version}" if rt.group else f"api/{rt.version}"
        if gv not in seen:
            seen.append(gv)
    return seen


def _reachable(defs: dict[str, JSON], roots: list[str]) -> dict[str, JSON]:
    out: dict[str, JSON] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in out or name not in defs:
            continue
        out[name] = defs[name]
        text = json.dumps(defs[name])
        start = 0
        while True:
            i = text.find(_V3_REF, start)
            if i < 0:
                break
            j = text.find('"', i)
            todo.append(text[i + len(_V3_REF) : j])
            start = j
    return out


def v3_document(group_version: str) -> JSON | None:
    """The OpenAPI 3.0 document of `api/v1` or `apis/<group>/<version>`."""
    parts = group_version.strip("/").split("/")
    if parts[0] == "api" and len(parts) == 2:
        group, version = "", parts[1]
    elif parts[0] == "apis" and len(parts) == 3:
        group, version = parts[1], parts[2]
    else:
        return None
    rts = [r for r in scheme.all_resources() if r.group == group and r.version == version]
    if not rts:
        return None
    defs = _schemas()
    paths: dict[str, JSON] = {}
    for rt in rts:
        paths.update(_paths(rt, _V3_REF + _model_name(rt), _V3_REF + _list_model_name(rt)))
    roots = [_model_name(rt) for rt in rts] + [_list_model_name(rt) for rt in rts]
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0-kubelab"},
        "paths": paths,
        "components": {"schemas": _reachable(defs, roots)},
    }


def _to_v2(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "$ref" and isinstance(v, str):
                out[k] = v.replace(_V3_REF, "#/definitions/")
            else:
                out[k] = _to_v2(v)
        return out
    if isinstance(value, list):
        return [_to_v2(v) for v in value]
    return value


def _v2_op(op: JSON) -> JSON:
    out = copy.deepcopy(op)
    out.pop("requestBody", None)
    for p in out.get("parameters", []):
        schema = p.pop("schema", {})
        p["type"] = schema.get("type", "string")
        p["uniqueItems"] = True
    for resp in out["responses"].values():
        content = resp.pop("content", None)
        if content:
            resp["schema"] = content["application/json"]["schema"]
    out["consumes"] = ["*/*"]
    out["produces"] = ["application/json"]
    out["schemes"] = ["https"]
    return out


@cache
def v2_document() -> JSON:
    """The whole API in Swagger 2.0 (what `kubectl explain --output plaintext-openapiv2` reads)."""
    paths: dict[str, JSON] = {}
    for gv in v3_paths():
        doc = v3_document(gv)
        assert doc is not None
        for path, item in doc["paths"].items():
            v2_item: JSON = {}
            for method, op in item.items():
                if method == "parameters":
                    v2_item[method] = [
                        {k: v for k, v in p.items() if k != "schema"} | {"type": "string"}
                        for p in op
                    ]
                else:
                    v2_item[method] = _v2_op(op)
            paths[path] = v2_item
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0-kubelab"},
        "paths": _to_v2(paths),
        "definitions": _to_v2(_schemas()),
    }
