"""Unmodified Kubernetes client libraries against kubelab's REST API: the
official `kubernetes` client, `lightkube` and `kr8s` list, create, patch,
watch and delete, with the admin kubeconfig the apiserver wrote."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.integration.rest_fixtures import Rest, rest

pytestmark = pytest.mark.etcd
__all__ = ["rest"]


def test_official_kubernetes_client(rest: Rest) -> None:
    import kubernetes

    # Typed as Any: the client's own annotations are partial.
    k8s: Any = kubernetes
    client, config, watch = k8s.client, k8s.config, k8s.watch
    api_client = config.new_client_from_config(config_file=str(rest.kubeconfig))
    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py-official")))
    names = [n.metadata.name for n in core.list_namespace().items]
    assert "py-official" in names and "default" in names

    created = core.create_namespaced_config_map(
        "py-official",
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="c1", labels={"a": "b"}), data={"k": "v"}
        ),
    )
    assert created.metadata.uid
    patched = core.patch_namespaced_config_map("c1", "py-official", {"data": {"k2": "v2"}})
    assert patched.data == {"k": "v", "k2": "v2"}
    assert [
        c.metadata.name
        for c in core.list_namespaced_config_map("py-official", label_selector="a=b").items
    ] == ["c1"]

    deploy = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx")]),
            ),
        ),
    )
    apps.create_namespaced_deployment("py-official", deploy)
    scale = apps.read_namespaced_deployment_scale("web", "py-official")
    assert scale.spec.replicas == 1

    with pytest.raises(client.ApiException) as e:
        core.read_namespaced_pod("missing", "py-official")
    assert e.value.status == 404

    rv = core.list_namespaced_config_map("py-official").metadata.resource_version
    seen: list[tuple[str, str]] = []

    def watcher() -> None:
        w = watch.Watch()
        for event in w.stream(
            core.list_namespaced_config_map,
            "py-official",
            resource_version=rv,
            timeout_seconds=15,
        ):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 2:
                w.stop()

    t = threading.Thread(target=watcher, daemon=True)
    t.start()
    core.create_namespaced_config_map(
        "py-official", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c2"))
    )
    core.delete_namespaced_config_map("c2", "py-official")
    t.join(20)
    assert seen == [("ADDED", "c2"), ("DELETED", "c2")]
    api_client.close()


def test_lightkube(rest: Rest) -> None:
    import lightkube
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import ConfigMap, Namespace

    lk: Any = lightkube.Client(lightkube.KubeConfig.from_file(str(rest.kubeconfig)))

    lk.create(Namespace(metadata=ObjectMeta(name="py-lightkube")))
    assert "py-lightkube" in [n.metadata.name for n in lk.list(Namespace) if n.metadata]
    lk.create(ConfigMap(metadata=ObjectMeta(name="c1", namespace="py-lightkube"), data={"x": "y"}))
    assert lk.get(ConfigMap, "c1", namespace="py-lightkube").data == {"x": "y"}
    applied = ConfigMap(
        apiVersion="v1",
        kind="ConfigMap",
        metadata=ObjectMeta(name="c2", namespace="py-lightkube"),
        data={"a": "1"},
    )
    lk.apply(applied, field_manager="lightkube")
    assert lk.get(ConfigMap, "c2", namespace="py-lightkube").data == {"a": "1"}
    names: list[str] = []
    for op, obj in lk.watch(ConfigMap, namespace="py-lightkube"):
        assert op == "ADDED"
        names.append(obj.metadata.name if obj.metadata else "")
        if len(names) == 2:
            break
    assert sorted(names) == ["c1", "c2"]
    lk.delete(ConfigMap, "c1", namespace="py-lightkube")
    assert [
        c.metadata.name for c in lk.list(ConfigMap, namespace="py-lightkube") if c.metadata
    ] == ["c2"]
    lk.close()


async def test_kr8s(rest: Rest) -> None:
    import kr8s.asyncio
    from kr8s.asyncio.objects import ConfigMap, Namespace

    api: Any = await kr8s.asyncio.api(kubeconfig=str(rest.kubeconfig))
    version: dict[str, Any] = await api.version()
    assert version["major"] == "1"
    ns = await Namespace({"metadata": {"name": "py-kr8s"}}, api=api)
    await ns.create()
    names = [n.name async for n in api.get("namespaces")]
    assert "py-kr8s" in names
    cm = await ConfigMap(
        {"metadata": {"name": "c1", "namespace": "py-kr8s"}, "data": {"q": "1"}}, api=api
    )
    await cm.create()
    await cm.patch({"data": {"q": "2"}})
    await cm.refresh()
    assert cm.raw["data"] == {"q": "2"}
    await cm.delete()
    left = [c.name async for c in api.get("configmaps", namespace="py-kr8s")]
    assert "c1" not in left
