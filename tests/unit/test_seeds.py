"""Every manifest of the seed tutorials (tests/seeds/, extracted from the French
lab notes next to them) is admitted unchanged, as a real apiserver admits it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from apimachinery import errors, scheme, validation

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
MANIFESTS = sorted(SEEDS.glob("*.yaml"))


def _load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_seed_manifests_were_extracted() -> None:
    assert len(MANIFESTS) >= 6
    assert sorted(SEEDS.glob("*.txt")), "the original lab notes sit next to their manifests"


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_seed_manifest_is_admitted(path: Path) -> None:
    for doc in _load(path):
        original = copy.deepcopy(doc)
        rt = scheme.for_kind(doc["apiVersion"], doc["kind"])
        admitted, warnings = validation.admit(rt, doc, operation="CREATE")
        assert warnings == []
        assert doc == original, "admission must not modify its input"
        # What the user wrote is kept as written (defaults only add).
        assert admitted["metadata"]["name"] == doc["metadata"]["name"]
        assert (
            admitted["spec"].items()
            >= {
                k: v for k, v in admitted["spec"].items() if k in doc["spec"] and k != "template"
            }.items()
        )
        # Admitting the stored object again is a no-op (defaults are idempotent).
        again, _ = validation.admit(rt, admitted, operation="CREATE")
        assert again == admitted


def test_seed_redis_deployment_defaults() -> None:
    (doc,) = _load(SEEDS / "001_deployment_redis.yaml")
    rt = scheme.for_kind("apps/v1", "Deployment")
    obj, _ = validation.admit(rt, doc, operation="CREATE")
    spec = obj["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    container = spec["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"memory": "128Mi", "cpu": "500m"}
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["ports"] == [{"containerPort": 6379, "protocol": "TCP"}]


def test_seed_template_with_placeholders_is_refused_like_upstream() -> None:
    """The tutorial's `<NomApplication>` skeleton is a template, not a manifest:
    upstream refuses it at decoding (a `<Port>` string, a `<Memory>` quantity)."""
    (doc,) = _load(SEEDS / "001_deployment_placeholders.yaml.template")
    rt = scheme.for_kind("apps/v1", "Deployment")
    with pytest.raises(errors.BadRequest) as e:
        validation.admit(rt, doc, operation="CREATE")
    assert e.value.message.startswith(
        'Deployment in version "v1" cannot be handled as a Deployment: '
    )
