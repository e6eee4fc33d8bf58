"""Per-kind validation rules, looked up by (apiVersion, kind).

`VALIDATORS[(api_version, kind)]` gives the checks for an object (create and
update alike), `UPDATE_VALIDATORS` what an update may not change, and
`STATUS_VALIDATORS` the checks of a status write. `apimachinery.validation.admit`
is the only caller; the modules hold the rules, grouped as upstream groups them.
"""

from __future__ import annotations

from collections.abc import Callable

from apimachinery.fielderrors import ErrorList
from apimachinery.validators import core, other, pods, rbac, workloads
from apimachinery.validators.common import JSON

Check = Callable[[JSON, ErrorList], None]
UpdateCheck = Callable[[JSON, JSON, ErrorList], None]

VALIDATORS: dict[tuple[str, str], Check] = {
    ("v1", "Pod"): pods.validate_pod,
    ("v1", "Namespace"): core.validate_namespace,
    ("v1", "Node"): core.validate_node,
    ("v1", "Service"): core.validate_service,
    ("v1", "Endpoints"): core.validate_endpoints,
    ("v1", "ConfigMap"): core.validate_configmap,
    ("v1", "Secret"): core.validate_secret,
    ("v1", "Event"): core.validate_event,
    ("v1", "ServiceAccount"): core.validate_serviceaccount,
    ("v1", "ResourceQuota"): core.validate_resourcequota,
    ("v1", "LimitRange"): core.validate_limitrange,
    ("v1", "PersistentVolumeClaim"): core.validate_pvc,
    ("v1", "PersistentVolume"): core.validate_pv,
    ("apps/v1", "Deployment"): workloads.validate_deployment,
    ("apps/v1", "ReplicaSet"): workloads.validate_replicaset,
    ("apps/v1", "StatefulSet"): workloads.validate_statefulset,
    ("apps/v1", "DaemonSet"): workloads.validate_daemonset,
    ("apps/v1", "ControllerRevision"): workloads.validate_controllerrevision,
    ("batch/v1", "Job"): workloads.validate_job,
    ("batch/v1", "CronJob"): workloads.validate_cronjob,
    ("networking.k8s.io/v1", "Ingress"): other.validate_ingress,
    ("networking.k8s.io/v1", "IngressClass"): other.validate_ingressclass,
    ("discovery.k8s.io/v1", "EndpointSlice"): other.validate_endpointslice,
    ("coordination.k8s.io/v1", "Lease"): other.validate_lease,
    ("scheduling.k8s.io/v1", "PriorityClass"): other.validate_priorityclass,
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): other.validate_selfsubjectaccessreview,
    ("rbac.authorization.k8s.io/v1", "Role"): rbac.validate_role,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): rbac.validate_clusterrole,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): rbac.validate_rolebinding,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): rbac.validate_clusterrolebinding,
}

UPDATE_VALIDATORS: dict[tuple[str, str], UpdateCheck] = {
    ("v1", "Pod"): pods.validate_pod_update,
    ("v1", "Service"): core.validate_service_update,
    ("v1", "ConfigMap"): core.validate_configmap_update,
    ("v1", "Secret"): core.validate_secret_update,
    ("v1", "PersistentVolumeClaim"): core.validate_pvc_update,
    ("v1", "PersistentVolume"): core.validate_pv_update,
    ("apps/v1", "Deployment"): workloads.validate_deployment_update,
    ("apps/v1", "ReplicaSet"): workloads.validate_replicaset_update,
    ("apps/v1", "StatefulSet"): workloads.validate_statefulset_update,
    ("apps/v1", "DaemonSet"): workloads.validate_daemonset_update,
    ("apps/v1", "ControllerRevision"): workloads.validate_controllerrevision_update,
    ("batch/v1", "Job"): workloads.validate_job_update,
    ("networking.k8s.io/v1", "IngressClass"): other.validate_ingressclass_update,
    ("discovery.k8s.io/v1", "EndpointSlice"): other.validate_endpointslice_update,
    ("scheduling.k8s.io/v1", "PriorityClass"): other.validate_priorityclass_update,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): rbac.validate_binding_update,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): rbac.validate_binding_update,
}

STATUS_VALIDATORS: dict[tuple[str, str], Check] = {
    ("v1", "Pod"): pods.validate_pod_status,
}
