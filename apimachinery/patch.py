"""The four patch types of the Kubernetes API, and managed fields.

`apply_patch(rt, current, patch_type, patch, field_manager=, force=)` returns
the patched object (the caller admits and stores it):

- `application/json-patch+json`: RFC 6902, with the `jsonpatch` package;
- `application/merge-patch+json`: RFC 7386 (null deletes, lists replace);
- `application/strategic-merge-patch+json`: upstream's strategic merge patch,
  where lists of objects with a patch merge key (containers by name, container
  ports by containerPort, env by name, volumes by name, volumeMounts by
  mountPath, ownerReferences by uid, conditions by type...) merge item by
  item, with the `$patch: delete|replace|merge`, `$retainKeys`,
  `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>` directives
  that `kubectl apply`, `edit`, `label`, `set image` send;
- `application/apply-patch+yaml`: server-side apply. The applied configuration
  is merged in; fields this manager applied before and no longer applies are
  removed unless another manager owns them; a field another manager owns with
  a different value is a 409 conflict unless `force`. Ownership is recorded in
  `metadata.managedFields` (FieldsV1), as `kubectl get --show-managed-fields`
  shows it.

`track_update(old, new, manager=, api_version=)` records the fields an update
(PUT or non-apply PATCH) changed as owned by that manager (operation Update).
"""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Iterable
from typing import Any

import jsonpatch
import yaml

from apimachinery import errors
from apimachinery.scheme import ResourceType

JSON = dict[str, Any]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)

# --- patch metadata: which lists merge, and by which key ------------------------
# Keyed by the list's field name, then refined by the name of the field holding
# the object that contains the list (for `ports`: containers vs. a Service spec).
_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "conditions": "type",
    "hostAliases": "ip",
    "resourceClaims": "name",
    "addresses": "type",
    "topologySpreadConstraints": "topologyKey",
}
# Lists of primitives that merge as sets (strategy "merge" without a key).
_PRIMITIVE_MERGE = {"finalizers"}
# Container-level lists, in objects found under these list names.
_CONTAINER_LISTS = {"containers", "initContainers", "ephemeralContainers"}


def merge_key(field: str, parent: str) -> str | None:
    """The patch merge key of list `field` in an object that sits under `parent`
    (a field name, or the list name for list items), or None for atomic lists."""
    if field == "ports":
        if parent in _CONTAINER_LISTS:
            return "containerPort"
        if parent == "spec":
            return "port"
        return None
    if field == "addresses" and parent != "status":
        return None
    if field == "conditions" and parent not in ("status", ""):
        return None
    return _MERGE_KEYS.get(field)


# --- decoding -------------------------------------------------------------------


def _decode_json(patch: bytes) -> Any:
    try:
        return json.loads(patch or b"null")
    except ValueError as e:
        raise errors.BadRequest(message=f"error decoding patch: {e}") from None


# --- JSON merge patch (RFC 7386) --------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- strategic merge patch ---------------------------------------------------------


def _key_of(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, dict) else None


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    """Items in `$setElementOrder` order first; the others keep their place after."""
    if key is None:
        pos = {json.dumps(v, sort_keys=True): i for i, v in enumerate(order)}

        def ident(x: Any) -> str:
            return json.dumps(x, sort_keys=True)
    else:
        pos = {json.dumps(_key_of(o, key)): i for i, o in enumerate(order)}

        def ident(x: Any) -> str:
            return json.dumps(_key_of(x, key))

    ordered = sorted((x for x in items if ident(x) in pos), key=lambda x: pos[ident(x)])
    rest = [x for x in items if ident(x) not in pos]
    return ordered + rest


def _merge_list(current: Any, patch: list[Any], field: str, parent: str) -> list[Any]:
    key = merge_key(field, parent)
    cur = list(current) if isinstance(current, list) else []
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [
            _strip(x) for x in patch if not (isinstance(x, dict) and x.get("$patch") == "replace")
        ]
    if key is None:
        if field in _PRIMITIVE_MERGE:
            return cur + [x for x in patch if x not in cur]
        return [_strip(x) for x in patch]
    result = [copy.deepcopy(x) for x in cur]
    for item in patch:
        if not isinstance(item, dict):
            raise errors.BadRequest(
                message=f"unable to find api field in struct {field} for the json field"
            )
        if item.get("$patch") == "delete":
            k = item.get(key)
            result = [x for x in result if _key_of(x, key) != k]
            continue
        k = item.get(key)
        for i, existing in enumerate(result):
            if k is not None and _key_of(existing, key) == k:
                result[i] = strategic_merge(existing, item, field)
                break
        else:
            result.append(strategic_merge({}, item, field))
    return result


def _strip(value: Any) -> Any:
    """A patch value without directives (for values that replace)."""
    if isinstance(value, dict):
        return {
            k: _strip(v)
            for k, v in value.items()
            if not k.startswith("$") and not k.startswith("$setElementOrder/")
        }
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def strategic_merge(current: Any, patch: Any, parent: str = "") -> Any:
    """`patch` applied to `current` with strategic merge patch semantics;
    `parent` names the field (or list) that holds `current`."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip({k: v for k, v in patch.items() if k != "$patch"})
    if directive == "delete":
        return None
    result: JSON = dict(current) if isinstance(current, dict) else {}
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value if isinstance(value, list) else []
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list) and isinstance(value, list):
                result[name] = [x for x in result[name] if x not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, key, parent)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value, key)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = value
    for name, order in orders.items():
        if isinstance(result.get(name), list):
            result[name] = _reorder(result[name], order, merge_key(name, parent))
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


# --- managed fields (FieldsV1) ------------------------------------------------------

Path = tuple[str, ...]
# Fields never tracked (upstream's ignored fields for every resource).
_IGNORED_TOP = {"apiVersion", "kind"}
_IGNORED_META = {
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
}


def _item_key(item: Any, key: str) -> str:
    return "k:" + json.dumps({key: _key_of(item, key)}, separators=(",", ":"))


def field_set(obj: JSON) -> set[Path]:
    """Every field path set in `obj` (maps and keyed list items included as
    their own paths; atomic lists and primitives are leaves)."""
    out: set[Path] = set()

    def walk(value: JSON, path: Path, name: str) -> bool:
        added = False
        for k, v in value.items():
            if not path and (k in _IGNORED_TOP or k == "status"):
                continue
            if path == ("f:metadata",) and k in _IGNORED_META:
                continue
            child = (*path, f"f:{k}")
            if isinstance(v, dict) and v:
                if walk(v, child, k) or k in _ASSOCIATIVE_MAPS:
                    out.add(child)
                    added = True
                continue
            out.add(child)
            added = True
            key = merge_key(k, name) if isinstance(v, list) else None
            if key is not None:
                for item in v:
                    if isinstance(item, dict) and key in item:
                        item_path = (*child, _item_key(item, key))
                        out.add(item_path)
                        walk(item, item_path, k)
        return added

    walk(obj, (), "")
    return out


# Maps whose keys are data (not fields of a struct): upstream marks them "." when owned.
_ASSOCIATIVE_MAPS = {
    "labels",
    "annotations",
    "data",
    "binaryData",
    "stringData",
    "nodeSelector",
    "matchLabels",
    "selector",
    "capacity",
    "limits",
    "requests",
}


def to_fields_v1(paths: Iterable[Path]) -> JSON:
    root: JSON = {}
    owned = set(paths)
    for path in sorted(owned):
        node = root
        for part in path:
            node = node.setdefault(part, {})

    def mark(node: JSON, prefix: Path) -> None:
        for k, child in node.items():
            p = (*prefix, k)
            if child:
                if k.startswith("k:") or k[2:] in _ASSOCIATIVE_MAPS:
                    child["."] = {}
                mark(child, p)

    mark(root, ())
    return root


def from_fields_v1(fields: Any, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    if not isinstance(fields, dict):
        return out
    for k, child in fields.items():
        if k == ".":
            continue
        p = (*prefix, k)
        out.add(p)
        out |= from_fields_v1(child, p)
    return out


def _lookup(obj: Any, path: Path) -> tuple[bool, Any]:
    cur = obj
    for part in path:
        if part.startswith("f:"):
            name = part[2:]
            if not isinstance(cur, dict) or name not in cur:
                return False, None
            cur = cur[name]
        elif part.startswith("k:"):
            want = json.loads(part[2:])
            if not isinstance(cur, list):
                return False, None
            for item in cur:
                if isinstance(item, dict) and all(item.get(k) == v for k, v in want.items()):
                    cur = item
                    break
            else:
                return False, None
        else:
            return False, None
    return True, cur


def _remove(obj: Any, path: Path) -> None:
    if not path:
        return
    found, container = _lookup(obj, path[:-1])
    if not found:
        return
    last = path[-1]
    if last.startswith("f:") and isinstance(container, dict):
        container.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(container, list):
        want = json.loads(last[2:])
        container[:] = [
            x
            for x in container
            if not (isinstance(x, dict) and all(x.get(k) == v for k, v in want.items()))
        ]


def _apply_merge(current: Any, applied: Any, name: str = "") -> Any:
    """The applied configuration merged into the live object (keyed lists by key)."""
    if not isinstance(applied, dict) or not isinstance(current, dict):
        return copy.deepcopy(applied)
    result = dict(current)
    for k, v in applied.items():
        if v is None:
            result.pop(k, None)
        elif isinstance(v, list):
            key = merge_key(k, name)
            cur = result.get(k)
            if key is None or not isinstance(cur, list):
                result[k] = copy.deepcopy(v)
            else:
                merged = []
                for item in v:
                    match = next(
                        (
                            c
                            for c in cur
                            if isinstance(item, dict) and _key_of(c, key) == _key_of(item, key)
                        ),
                        None,
                    )
                    merged.append(_apply_merge(match, item, k) if match is not None else item)
                # Items other managers added stay, after the applied ones.
                applied_keys = {json.dumps(_key_of(i, key)) for i in v}
                merged += [c for c in cur if json.dumps(_key_of(c, key)) not in applied_keys]
                result[k] = merged
        elif isinstance(v, dict):
            result[k] = _apply_merge(result.get(k), v, k)
        else:
            result[k] = v
    return result


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entries(obj: JSON) -> list[JSON]:
    return list((obj.get("metadata") or {}).get("managedFields") or [])


def _set_entries(obj: JSON, entries: list[JSON]) -> None:
    meta = obj.setdefault("metadata", {})
    kept = [e for e in entries if e.get("fieldsV1")]
    if kept:
        meta["managedFields"] = kept
    else:
        meta.pop("managedFields", None)


def _leaves(paths: set[Path]) -> set[Path]:
    return {p for p in paths if not any(q[: len(p)] == p and q != p for q in paths)}


def server_side_apply(
    rt: ResourceType, current: JSON, applied: JSON, *, field_manager: str, force: bool
) -> JSON:
    if not field_manager:
        raise errors.BadRequest(
            message="PATCH, application/apply-patch+yaml requires fieldManager to be set"
        )
    applied = copy.deepcopy(applied)
    applied.get("metadata", {}).pop("managedFields", None)
    api_version = str(applied.get("apiVersion") or rt.api_version)
    new_set = field_set(applied)
    entries = _entries(current)
    mine = [
        e for e in entries if e.get("manager") == field_manager and e.get("operation") == "Apply"
    ]
    others = [e for e in entries if e not in mine]
    old_set: set[Path] = set()
    for e in mine:
        old_set |= from_fields_v1(e.get("fieldsV1"))

    # Conflicts: leaves another manager owns, whose value the applier changes.
    conflicts: list[tuple[str, Path]] = []
    other_sets = [(e, from_fields_v1(e.get("fieldsV1"))) for e in others]
    new_leaves = _leaves(new_set)
    for e, owned in other_sets:
        for path in sorted(new_leaves & owned):
            _, live = _lookup(current, path)
            _, want = _lookup(applied, path)
            if live != want:
                conflicts.append((str(e.get("manager", "")), path))
    if conflicts and not force:
        causes = [
            errors.Cause(
                field=_dotted(path),
                message=f'conflict with "{manager}": {_dotted(path)}',
                reason="FieldManagerConflict",
            )
            for manager, path in conflicts
        ]
        plural = "s" if len(causes) > 1 else ""
        lines = "\n".join(f"- {c.message}" for c in causes)
        raise errors.Conflict(
            message=f"Apply failed with {len(causes)} conflict{plural}: {lines}"
            if len(causes) > 1
            else f"Apply failed with 1 conflict: {causes[0].message}",
            name=str((current.get("metadata") or {}).get("name", "")),
            group=rt.group,
            kind=rt.resource,
            causes=causes,
        )

    result = _apply_merge(current, applied) if current else copy.deepcopy(applied)
    owned_by_others: set[Path] = set()
    new_others: list[JSON] = []
    lost = {p for _, p in conflicts} if force else set()
    for e, owned in other_sets:
        kept = owned - lost
        owned_by_others |= kept
        new_others.append({**e, "fieldsV1": to_fields_v1(kept)})
    removed = old_set - new_set
    for path in sorted(removed, key=len, reverse=True):
        if any(q[: len(path)] == path for q in owned_by_others):
            continue
        struct = path[-1].startswith("f:") and path[-1][2:] not in _ASSOCIATIVE_MAPS
        if struct and any(len(q) > len(path) and q[: len(path)] == path for q in old_set):
            continue  # a struct that held fields: only those fields go
        _remove(result, path)
    entry = {
        "manager": field_manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": _now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(new_set),
    }
    _set_entries(result, [*new_others, entry])
    return result


def _dotted(path: Path) -> str:
    parts = []
    for p in path:
        if p.startswith("f:"):
            parts.append("." + p[2:])
        else:
            parts.append("[" + ",".join(f"{k}={v}" for k, v in json.loads(p[2:]).items()) + "]")
    return "".join(parts)


def _changed(old: Any, new: Any, path: Path, name: str, out: set[Path]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for k, v in new.items():
            if not path and (k in _IGNORED_TOP or k == "status"):
                continue
            if path == ("f:metadata",) and k in _IGNORED_META:
                continue
            child = (*path, f"f:{k}")
            if k not in old:
                out |= _prefixed(child, v, k)
                continue
            if old[k] == v:
                continue
            key = merge_key(k, name) if isinstance(v, list) else None
            if isinstance(v, list) and key is not None and isinstance(old[k], list):
                for item in v:
                    if not isinstance(item, dict):
                        continue
                    item_path = (*child, _item_key(item, key))
                    match = next((o for o in old[k] if _key_of(o, key) == item.get(key)), None)
                    if match is None:
                        out.add(item_path)
                        out |= _prefixed(item_path, item, k, is_item=True)
                    elif match != item:
                        _changed(match, item, item_path, k, out)
            elif isinstance(v, dict) and isinstance(old[k], dict):
                _changed(old[k], v, child, k, out)
            else:
                out.add(child)


def _prefixed(prefix: Path, value: Any, name: str, *, is_item: bool = False) -> set[Path]:
    out = {prefix}
    if isinstance(value, dict):
        for p in field_set({"x": value}):
            if p[0] == "f:x" and len(p) > 1:
                out.add((*prefix, *p[1:]))
    elif isinstance(value, list):
        key = merge_key(name, "")
        if key is not None:
            for item in value:
                if isinstance(item, dict) and key in item:
                    ip = (*prefix, _item_key(item, key))
                    out |= _prefixed(ip, item, name, is_item=True)
    return out


def track_update(old: JSON | None, new: JSON, *, manager: str, api_version: str) -> JSON:
    """`new` with managedFields crediting `manager` (operation Update) with the
    fields it changed relative to `old`; those fields leave other managers."""
    if not manager:
        return new
    old = old or {}
    changed: set[Path] = set()
    _changed(old, new, (), "", changed)
    entries = _entries(new) or _entries(old)
    if not changed and not entries:
        return new
    result: list[JSON] = []
    mine: set[Path] = set()
    for e in entries:
        owned = from_fields_v1(e.get("fieldsV1"))
        if e.get("manager") == manager and e.get("operation") == "Update":
            mine |= owned
            continue
        result.append({**e, "fieldsV1": to_fields_v1(owned - _leaves(changed))})
    mine |= changed
    if mine:
        result.append(
            {
                "manager": manager,
                "operation": "Update",
                "apiVersion": api_version,
                "time": _now(),
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(mine),
            }
        )
    new = dict(new)
    new["metadata"] = dict(new.get("metadata") or {})
    _set_entries(new, result)
    return new


# --- entry point ------------------------------------------------------------------


def content_type_of(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def apply_patch(
    rt: ResourceType,
    current: JSON,
    patch_type: str,
    patch: bytes,
    *,
    field_manager: str = "",
    force: bool = False,
) -> JSON:
    """`current` patched; `current` may be `{}` for an apply that creates.
    Non-apply patches credit the fields they change to `field_manager`
    (operation Update), so a later server-side apply sees who owns what."""
    patch_type = content_type_of(patch_type)
    if patch_type == APPLY_PATCH or not field_manager or not current:
        return _patched(rt, current, patch_type, patch, field_manager=field_manager, force=force)
    result = _patched(rt, current, patch_type, patch, field_manager=field_manager, force=force)
    if result.get("kind") not in (None, rt.kind):
        return result  # a subresource's view (Scale): not tracked
    return track_update(current, result, manager=field_manager, api_version=rt.api_version)


def _patched(
    rt: ResourceType,
    current: JSON,
    patch_type: str,
    patch: bytes,
    *,
    field_manager: str,
    force: bool,
) -> JSON:
    if patch_type == JSON_PATCH:
        ops = _decode_json(patch)
        if not isinstance(ops, list):
            raise errors.BadRequest(
                message="json: cannot unmarshal object into Go value of type jsonpatch.Patch"
            )
        try:
            result = jsonpatch.apply_patch(current, ops)
        except jsonpatch.JsonPatchTestFailed as e:
            raise errors.Invalid(message=f"the server rejected our request: {e}") from None
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
            raise errors.Invalid(
                message=f"the server rejected our request due to an error in our request: {e}"
            ) from None
        except (TypeError, KeyError, IndexError, ValueError) as e:
            raise errors.BadRequest(message=f"invalid JSON patch: {e}") from None
        if not isinstance(result, dict):
            raise errors.BadRequest(message="a JSON patch must produce an object")
        return result
    if patch_type == MERGE_PATCH:
        doc = _decode_json(patch)
        if not isinstance(doc, dict):
            raise errors.BadRequest(message="a merge patch must be a JSON object")
        return dict(merge_patch(current, doc))
    if patch_type == STRATEGIC_MERGE_PATCH:
        doc = _decode_json(patch)
        if not isinstance(doc, dict):
            raise errors.BadRequest(message="a strategic merge patch must be a JSON object")
        merged = strategic_merge(current, doc)
        return merged if isinstance(merged, dict) else {}
    if patch_type == APPLY_PATCH:
        try:
            doc = yaml.safe_load(patch or b"")
        except yaml.YAMLError as e:
            raise errors.BadRequest(message=f"error decoding YAML: {e}") from None
        if not isinstance(doc, dict):
            raise errors.BadRequest(message="apply patch must be a YAML or JSON object")
        if not doc.get("apiVersion") or not doc.get("kind"):
            raise errors.BadRequest(
                message="invalid object type: apiVersion and kind must be set in an apply patch"
            )
        return server_side_apply(rt, current, doc, field_manager=field_manager, force=force)
    raise errors.UnsupportedMediaType(
        message=f"the body of the request was in an unknown format - accepted media types "
        f"include: {', '.join(PATCH_TYPES)}"
    )
