"""The API models decode Kubernetes JSON and give the REST layer OpenAPI schemas
with Kubernetes' own (camelCase) field names and descriptions."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from apimachinery import scheme
from apimachinery.models import MODELS


def test_every_built_in_kind_has_a_model() -> None:
    kinds = {(r.api_version, r.kind) for r in scheme.all_resources()}
    assert kinds == set(MODELS)


@pytest.mark.parametrize("key", sorted(MODELS), ids=lambda k: k[1])
def test_json_schema_uses_kubernetes_names(key: tuple[str, str]) -> None:
    model: type[BaseModel] = MODELS[key]
    schema = model.model_json_schema(by_alias=True)
    props = schema["properties"]
    assert {"apiVersion", "kind", "metadata"} <= set(props)
    assert schema.get("description"), "the kind's description comes from its docstring"
    assert schema["additionalProperties"] is False


def test_pod_schema_details() -> None:
    schema = MODELS[("v1", "Pod")].model_json_schema(by_alias=True)
    defs = schema["$defs"]
    spec = defs["PodSpec"]["properties"]
    assert "restartPolicy" in spec
    assert spec["terminationGracePeriodSeconds"]["description"].startswith("Duration in seconds")
    container = defs["Container"]["properties"]
    assert {"imagePullPolicy", "livenessProbe", "volumeMounts", "envFrom"} <= set(container)
    status = defs["PodStatus"]["properties"]
    assert {"podIP", "hostIP", "qosClass"} <= set(status)


def test_list_meta_continue_alias() -> None:
    from apimachinery.models import ListMeta

    meta = ListMeta.model_validate({"continue": "abc", "resourceVersion": "5"})
    assert meta.continue_ == "abc"
    assert "continue" in ListMeta.model_json_schema(by_alias=True)["properties"]
