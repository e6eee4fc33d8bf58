"""The resource table names things as upstream does (what kubectl resolves)."""

from __future__ import annotations

import pytest

from apimachinery import errors, scheme


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("po", "Pod"),
        ("svc", "Service"),
        ("sa", "ServiceAccount"),
        ("ep", "Endpoints"),
        ("ing", "Ingress"),
        ("pc", "PriorityClass"),
        ("quota", "ResourceQuota"),
        ("limits", "LimitRange"),
        ("pvc", "PersistentVolumeClaim"),
        ("pv", "PersistentVolume"),
        ("sts", "StatefulSet"),
        ("ds", "DaemonSet"),
        ("cj", "CronJob"),
        ("deploy", "Deployment"),
        ("deployments.apps", "Deployment"),
        ("jobs", "Job"),
        ("endpointslices", "EndpointSlice"),
        ("Lease", "Lease"),
    ],
)
def test_resolve_short_names(name: str, kind: str) -> None:
    assert scheme.resolve(name).kind == kind


def test_unknown_resource() -> None:
    with pytest.raises(errors.NotFound):
        scheme.resolve("widgets")
    with pytest.raises(errors.BadRequest, match='no kind "Widget" is registered'):
        scheme.for_kind("v1", "Widget")


def test_all_category_and_scopes() -> None:
    all_ = {r.resource for r in scheme.in_category("all")}
    assert {"pods", "services", "deployments", "replicasets", "statefulsets"} <= all_
    assert {"daemonsets", "jobs", "cronjobs"} <= all_
    assert "configmaps" not in all_
    assert not scheme.for_kind("v1", "PersistentVolume").namespaced
    assert not scheme.for_kind("scheduling.k8s.io/v1", "PriorityClass").namespaced
    assert scheme.for_kind("apps/v1", "StatefulSet").subresources == ("status", "scale")
    ssar = scheme.for_kind("authorization.k8s.io/v1", "SelfSubjectAccessReview")
    assert ssar.verbs == ("create",)
    assert scheme.lookup("batch", "v1", "cronjobs").etcd_key("ns", "c") == "/registry/cronjobs/ns/c"
