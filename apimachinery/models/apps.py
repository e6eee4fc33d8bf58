"""Workload API models: Deployment, ReplicaSet, StatefulSet, DaemonSet,
ControllerRevision (apps/v1), Job and CronJob (batch/v1)."""

from __future__ import annotations

from typing import Any

from apimachinery.models.base import (
    APIObject,
    IntOrString,
    KModel,
    LabelSelector,
    ObjectMeta,
    ObjectReference,
    field,
)
from apimachinery.models.core import PersistentVolumeClaim, PodTemplateSpec


class RollingUpdateDeployment(KModel):
    maxUnavailable: IntOrString | None = field(
        "The maximum number of pods that can be unavailable during the update. Defaults to 25%."
    )
    maxSurge: IntOrString | None = field(
        "The maximum number of pods above the desired number. Defaults to 25%."
    )


class DeploymentStrategy(KModel):
    type: str | None = field('"Recreate" or "RollingUpdate". Default is RollingUpdate.')
    rollingUpdate: RollingUpdateDeployment | None = field("Rolling update config params.")


class DeploymentSpec(KModel):
    replicas: int | None = field("Number of desired pods. Defaults to 1.")
    selector: LabelSelector | None = field(
        "Label selector for pods. Must match the template's labels."
    )
    template: PodTemplateSpec | None = field("Template describes the pods that will be created.")
    strategy: DeploymentStrategy | None = field(
        "The deployment strategy to use to replace existing pods with new ones."
    )
    minReadySeconds: int | None = None
    revisionHistoryLimit: int | None = field(
        "The number of old ReplicaSets to retain. Defaults to 10."
    )
    paused: bool | None = field("Indicates that the deployment is paused.")
    progressDeadlineSeconds: int | None = field(
        "The maximum time in seconds for a deployment to make progress. Defaults to 600s."
    )


class DeploymentCondition(KModel):
    type: str | None = None
    status: str | None = None
    lastUpdateTime: str | None = None
    lastTransitionTime: str | None = None
    reason: str | None = None
    message: str | None = None


class DeploymentStatus(KModel):
    observedGeneration: int | None = None
    replicas: int | None = field("Total number of non-terminated pods targeted by this deployment.")
    updatedReplicas: int | None = None
    readyReplicas: int | None = None
    availableReplicas: int | None = None
    unavailableReplicas: int | None = None
    terminatingReplicas: int | None = None
    conditions: list[DeploymentCondition] | None = None
    collisionCount: int | None = None


class Deployment(APIObject):
    """Declarative updates for Pods and ReplicaSets."""

    spec: DeploymentSpec | None = field("Specification of the desired behavior of the Deployment.")
    status: DeploymentStatus | None = field("Most recently observed status of the Deployment.")


class ReplicaSetSpec(KModel):
    replicas: int | None = field("Number of desired pods. Defaults to 1.")
    minReadySeconds: int | None = None
    selector: LabelSelector | None = field(
        "A label query over pods that should match the replica count."
    )
    template: PodTemplateSpec | None = field(
        "The object that describes the pod that will be created."
    )


class ReplicaSetStatus(KModel):
    replicas: int | None = field("The most recently observed number of replicas.")
    fullyLabeledReplicas: int | None = None
    readyReplicas: int | None = None
    availableReplicas: int | None = None
    terminatingReplicas: int | None = None
    observedGeneration: int | None = None
    conditions: list[DeploymentCondition] | None = None


class ReplicaSet(APIObject):
    """Ensures that a specified number of pod replicas are running at any given time."""

    spec: ReplicaSetSpec | None = None
    status: ReplicaSetStatus | None = None


class RollingUpdateStatefulSetStrategy(KModel):
    partition: int | None = None
    maxUnavailable: IntOrString | None = None


class StatefulSetUpdateStrategy(KModel):
    type: str | None = field("RollingUpdate or OnDelete. Default is RollingUpdate.")
    rollingUpdate: RollingUpdateStatefulSetStrategy | None = None


class StatefulSetPersistentVolumeClaimRetentionPolicy(KModel):
    whenDeleted: str | None = None
    whenScaled: str | None = None


class StatefulSetOrdinals(KModel):
    start: int | None = None


class StatefulSetSpec(KModel):
    replicas: int | None = field("The desired number of replicas. Defaults to 1.")
    selector: LabelSelector | None = field(
        "A label query over pods that should match the replica count."
    )
    template: PodTemplateSpec | None = field(
        "The object that describes the pod that will be created."
    )
    volumeClaimTemplates: list[PersistentVolumeClaim] | None = field(
        "A list of claims that pods are allowed to reference."
    )
    serviceName: str | None = field("The name of the service that governs this StatefulSet.")
    podManagementPolicy: str | None = field("OrderedReady or Parallel. Default OrderedReady.")
    updateStrategy: StatefulSetUpdateStrategy | None = None
    revisionHistoryLimit: int | None = None
    minReadySeconds: int | None = None
    persistentVolumeClaimRetentionPolicy: StatefulSetPersistentVolumeClaimRetentionPolicy | None = (
        None
    )
    ordinals: StatefulSetOrdinals | None = None


class StatefulSetStatus(KModel):
    observedGeneration: int | None = None
    replicas: int | None = None
    readyReplicas: int | None = None
    currentReplicas: int | None = None
    updatedReplicas: int | None = None
    currentRevision: str | None = None
    updateRevision: str | None = None
    collisionCount: int | None = None
    conditions: list[DeploymentCondition] | None = None
    availableReplicas: int | None = None


class StatefulSet(APIObject):
    """A set of pods with consistent identities."""

    spec: StatefulSetSpec | None = None
    status: StatefulSetStatus | None = None


class RollingUpdateDaemonSet(KModel):
    maxUnavailable: IntOrString | None = None
    maxSurge: IntOrString | None = None


class DaemonSetUpdateStrategy(KModel):
    type: str | None = field("RollingUpdate or OnDelete. Default is RollingUpdate.")
    rollingUpdate: RollingUpdateDaemonSet | None = None


class DaemonSetSpec(KModel):
    selector: LabelSelector | None = field(
        "A label query over pods that are managed by the daemon set."
    )
    template: PodTemplateSpec | None = field(
        "An object that describes the pod that will be created."
    )
    updateStrategy: DaemonSetUpdateStrategy | None = None
    minReadySeconds: int | None = None
    revisionHistoryLimit: int | None = None


class DaemonSetStatus(KModel):
    currentNumberScheduled: int | None = None
    numberMisscheduled: int | None = None
    desiredNumberScheduled: int | None = None
    numberReady: int | None = None
    observedGeneration: int | None = None
    updatedNumberScheduled: int | None = None
    numberAvailable: int | None = None
    numberUnavailable: int | None = None
    collisionCount: int | None = None
    conditions: list[DeploymentCondition] | None = None


class DaemonSet(APIObject):
    """Runs a copy of a pod on every eligible node."""

    spec: DaemonSetSpec | None = None
    status: DaemonSetStatus | None = None


class ControllerRevision(APIObject):
    """An immutable snapshot of state data (a StatefulSet's or DaemonSet's template)."""

    data: Any = field("The serialized representation of the state.")
    revision: int | None = field("The revision of the state represented by data.")


# --- batch ----------------------------------------------------------------------


class JobSpec(KModel):
    parallelism: int | None = field(
        "The maximum desired number of pods the job should run at any given time."
    )
    completions: int | None = field(
        "The desired number of successfully finished pods the job should be run with."
    )
    activeDeadlineSeconds: int | None = None
    podFailurePolicy: dict[str, Any] | None = None
    successPolicy: dict[str, Any] | None = None
    backoffLimit: int | None = field(
        "The number of retries before marking this job failed. Defaults to 6."
    )
    backoffLimitPerIndex: int | None = None
    maxFailedIndexes: int | None = None
    selector: LabelSelector | None = None
    manualSelector: bool | None = None
    template: PodTemplateSpec | None = field(
        "Describes the pod that will be created when executing a job."
    )
    ttlSecondsAfterFinished: int | None = None
    completionMode: str | None = field("NonIndexed (default) or Indexed.")
    suspend: bool | None = None
    podReplacementPolicy: str | None = None
    managedBy: str | None = None


class JobCondition(KModel):
    type: str | None = None
    status: str | None = None
    lastProbeTime: str | None = None
    lastTransitionTime: str | None = None
    reason: str | None = None
    message: str | None = None


class UncountedTerminatedPods(KModel):
    succeeded: list[str] | None = None
    failed: list[str] | None = None


class JobStatus(KModel):
    conditions: list[JobCondition] | None = None
    startTime: str | None = None
    completionTime: str | None = None
    active: int | None = None
    succeeded: int | None = None
    failed: int | None = None
    terminating: int | None = None
    completedIndexes: str | None = None
    failedIndexes: str | None = None
    uncountedTerminatedPods: UncountedTerminatedPods | None = None
    ready: int | None = None


class Job(APIObject):
    """The configuration of a single job."""

    spec: JobSpec | None = None
    status: JobStatus | None = None


class JobTemplateSpec(KModel):
    metadata: ObjectMeta | None = None
    spec: JobSpec | None = None


class CronJobSpec(KModel):
    schedule: str | None = field('The schedule in Cron format, e.g. "*/1 * * * *".')
    timeZone: str | None = None
    startingDeadlineSeconds: int | None = None
    concurrencyPolicy: str | None = field("Allow (default), Forbid or Replace.")
    suspend: bool | None = None
    jobTemplate: JobTemplateSpec | None = field(
        "The job that will be created when executing a CronJob."
    )
    successfulJobsHistoryLimit: int | None = None
    failedJobsHistoryLimit: int | None = None


class CronJobStatus(KModel):
    active: list[ObjectReference] | None = None
    lastScheduleTime: str | None = None
    lastSuccessfulTime: str | None = None


class CronJob(APIObject):
    """The configuration of a single cron job."""

    spec: CronJobSpec | None = None
    status: CronJobStatus | None = None
