"""Pydantic models of the built-in kinds, keyed by (apiVersion, kind).

They serve two purposes: strict decoding at admission (unknown fields and
wrong types are found with their full path) and the OpenAPI schemas the REST
layer publishes (`model_json_schema(by_alias=True)`). Defaults and semantic
validation live in `apimachinery.defaults` and `apimachinery.validation`,
working on plain JSON dicts. Kinds without a model are admitted as they are.
"""

from __future__ import annotations

from pydantic import BaseModel

from apimachinery.models import apps, core, other
from apimachinery.models.base import KModel, LabelSelector, ListMeta, ObjectMeta, OwnerReference

MODELS: dict[tuple[str, str], type[BaseModel]] = {
    ("v1", "Namespace"): core.Namespace,
    ("v1", "Node"): core.Node,
    ("v1", "Pod"): core.Pod,
    ("v1", "Service"): core.Service,
    ("v1", "Endpoints"): core.Endpoints,
    ("v1", "ConfigMap"): core.ConfigMap,
    ("v1", "Secret"): core.Secret,
    ("v1", "Event"): core.Event,
    ("v1", "ServiceAccount"): core.ServiceAccount,
    ("v1", "ResourceQuota"): core.ResourceQuota,
    ("v1", "LimitRange"): core.LimitRange,
    ("v1", "PersistentVolumeClaim"): core.PersistentVolumeClaim,
    ("v1", "PersistentVolume"): core.PersistentVolume,
    ("apps/v1", "Deployment"): apps.Deployment,
    ("apps/v1", "ReplicaSet"): apps.ReplicaSet,
    ("apps/v1", "StatefulSet"): apps.StatefulSet,
    ("apps/v1", "DaemonSet"): apps.DaemonSet,
    ("apps/v1", "ControllerRevision"): apps.ControllerRevision,
    ("batch/v1", "Job"): apps.Job,
    ("batch/v1", "CronJob"): apps.CronJob,
    ("networking.k8s.io/v1", "Ingress"): other.Ingress,
    ("networking.k8s.io/v1", "IngressClass"): other.IngressClass,
    ("discovery.k8s.io/v1", "EndpointSlice"): other.EndpointSlice,
    ("coordination.k8s.io/v1", "Lease"): other.Lease,
    ("scheduling.k8s.io/v1", "PriorityClass"): other.PriorityClass,
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): other.SelfSubjectAccessReview,
}

__all__ = [
    "MODELS",
    "KModel",
    "LabelSelector",
    "ListMeta",
    "ObjectMeta",
    "OwnerReference",
]
