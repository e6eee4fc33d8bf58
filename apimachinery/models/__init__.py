"""Pydantic models of the built-in kinds, keyed by (apiVersion, kind).

They serve two purposes: strict decoding at admission (unknown fields and
wrong types are found with their full path) and the OpenAPI schemas the REST
layer publishes (`model_json_schema(by_alias=True)`). Defaults and semantic
validation live in `apimachinery.defaults` and `apimachinery.validation`,
working on plain JSON dicts. Kinds without a model are admitted as they are.
"""

from __future__ import annotations

from pydantic import BaseModel

from apimachinery.models import apps, core, other, rbac
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
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): other.SelfSubjectRulesReview,
    ("authentication.k8s.io/v1", "SelfSubjectReview"): other.SelfSubjectReview,
    ("rbac.authorization.k8s.io/v1", "Role"): rbac.Role,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): rbac.ClusterRole,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): rbac.RoleBinding,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): rbac.ClusterRoleBinding,
}

# The List kinds that have a model of their own, for the OpenAPI documents (list
# calls answer `<Kind>List` whether or not it is modelled here).
LIST_MODELS: dict[tuple[str, str], type[BaseModel]] = {
    ("rbac.authorization.k8s.io/v1", "RoleList"): rbac.RoleList,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleList"): rbac.ClusterRoleList,
    ("rbac.authorization.k8s.io/v1", "RoleBindingList"): rbac.RoleBindingList,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBindingList"): rbac.ClusterRoleBindingList,
}

__all__ = [
    "LIST_MODELS",
    "MODELS",
    "KModel",
    "LabelSelector",
    "ListMeta",
    "ObjectMeta",
    "OwnerReference",
]
