"""Core (v1) API models: Pod and its many parts, Node, Namespace, Service,
Endpoints, ConfigMap, Secret, Event, ServiceAccount, ResourceQuota,
LimitRange, PersistentVolume and PersistentVolumeClaim.

Every upstream field of these kinds is declared, so real manifests decode
strictly; rarely used nested structures (cloud volume sources, ephemeral
containers) are kept free-form rather than modelled field by field.
"""

from __future__ import annotations

from apimachinery.models.base import (
    APIObject,
    Condition,
    FreeForm,
    IntOrString,
    KModel,
    LabelSelector,
    LocalObjectReference,
    ObjectMeta,
    ObjectReference,
    Quantity,
    ResourceList,
    TypedLocalObjectReference,
    field,
)

# --- containers -----------------------------------------------------------------


class ConfigMapKeySelector(KModel):
    name: str | None = field("Name of the ConfigMap.")
    key: str | None = field("The key to select.")
    optional: bool | None = field("Specify whether the ConfigMap or its key must be defined.")


class SecretKeySelector(KModel):
    name: str | None = field("Name of the Secret.")
    key: str | None = field("The key of the secret to select from.")
    optional: bool | None = field("Specify whether the Secret or its key must be defined.")


class ObjectFieldSelector(KModel):
    apiVersion: str | None = field("Version of the schema the FieldPath is written in terms of.")
    fieldPath: str | None = field("Path of the field to select in the specified API version.")


class ResourceFieldSelector(KModel):
    containerName: str | None = field("Container name: required for volumes.")
    resource: str | None = field("Required: resource to select.")
    divisor: Quantity | None = field("Specifies the output format of the exposed resources.")


class EnvVarSource(KModel):
    configMapKeyRef: ConfigMapKeySelector | None = field("Selects a key of a ConfigMap.")
    secretKeyRef: SecretKeySelector | None = field(
        "Selects a key of a secret in the pod's namespace."
    )
    fieldRef: ObjectFieldSelector | None = field("Selects a field of the pod.")
    resourceFieldRef: ResourceFieldSelector | None = field(
        "Selects a resource of the container: limits and requests."
    )


class EnvVar(KModel):
    name: str | None = field("Name of the environment variable.")
    value: str | None = field("Variable references $(VAR_NAME) are expanded.")
    valueFrom: EnvVarSource | None = field("Source for the environment variable's value.")


class ConfigMapEnvSource(KModel):
    name: str | None = None
    optional: bool | None = None


class SecretEnvSource(KModel):
    name: str | None = None
    optional: bool | None = None


class EnvFromSource(KModel):
    prefix: str | None = field("An optional identifier to prepend to each key.")
    configMapRef: ConfigMapEnvSource | None = field("The ConfigMap to select from.")
    secretRef: SecretEnvSource | None = field("The Secret to select from.")


class ContainerPort(KModel):
    containerPort: int | None = field("Number of port to expose on the pod's IP address.")
    hostIP: str | None = field("What host IP to bind the external port to.")
    hostPort: int | None = field("Number of port to expose on the host.")
    name: str | None = field("An IANA_SVC_NAME, unique within the pod.")
    protocol: str | None = field('Protocol for port: "TCP", "UDP", or "SCTP". Defaults to "TCP".')


class ResourceClaim(KModel):
    name: str | None = None
    request: str | None = None


class ResourceRequirements(KModel):
    limits: ResourceList | None = field("Maximum amount of compute resources allowed.")
    requests: ResourceList | None = field("Minimum amount of compute resources required.")
    claims: list[ResourceClaim] | None = None


class VolumeMount(KModel):
    name: str | None = field("This must match the Name of a Volume.")
    mountPath: str | None = field(
        "Path within the container at which the volume should be mounted."
    )
    readOnly: bool | None = field("Mounted read-only if true, read-write otherwise.")
    recursiveReadOnly: str | None = None
    subPath: str | None = field(
        "Path within the volume from which the container's volume should be mounted."
    )
    subPathExpr: str | None = None
    mountPropagation: str | None = None


class VolumeDevice(KModel):
    name: str | None = None
    devicePath: str | None = None


class ExecAction(KModel):
    command: list[str] | None = field("Command line to execute inside the container.")


class HTTPHeader(KModel):
    name: str | None = None
    value: str | None = None


class HTTPGetAction(KModel):
    path: str | None = field("Path to access on the HTTP server.")
    port: IntOrString | None = field("Name or number of the port to access on the container.")
    host: str | None = field("Host name to connect to, defaults to the pod IP.")
    scheme: str | None = field("Scheme to use for connecting to the host. Defaults to HTTP.")
    httpHeaders: list[HTTPHeader] | None = field("Custom headers to set in the request.")


class TCPSocketAction(KModel):
    port: IntOrString | None = field("Number or name of the port to access on the container.")
    host: str | None = None


class GRPCAction(KModel):
    port: int | None = field("Port number of the gRPC service.")
    service: str | None = None


class SleepAction(KModel):
    seconds: int | None = None


class Probe(KModel):
    exec: ExecAction | None = field("Exec specifies a command to execute in the container.")
    httpGet: HTTPGetAction | None = field("HTTPGet specifies an HTTP GET request to perform.")
    tcpSocket: TCPSocketAction | None = field("TCPSocket specifies a connection to a TCP port.")
    grpc: GRPCAction | None = field("GRPC specifies a GRPC HealthCheckRequest.")
    initialDelaySeconds: int | None = field(
        "Number of seconds after the container has started before probes are initiated."
    )
    periodSeconds: int | None = field("How often (in seconds) to perform the probe. Default 10.")
    timeoutSeconds: int | None = field(
        "Number of seconds after which the probe times out. Default 1."
    )
    successThreshold: int | None = field("Minimum consecutive successes. Defaults to 1.")
    failureThreshold: int | None = field("Minimum consecutive failures. Defaults to 3.")
    terminationGracePeriodSeconds: int | None = None


class LifecycleHandler(KModel):
    exec: ExecAction | None = None
    httpGet: HTTPGetAction | None = None
    tcpSocket: TCPSocketAction | None = None
    sleep: SleepAction | None = None


class Lifecycle(KModel):
    postStart: LifecycleHandler | None = field("Called immediately after a container is created.")
    preStop: LifecycleHandler | None = field("Called immediately before a container is terminated.")
    stopSignal: str | None = None


class Capabilities(KModel):
    add: list[str] | None = field("Added capabilities.")
    drop: list[str] | None = field("Removed capabilities.")


class SELinuxOptions(KModel):
    level: str | None = None
    role: str | None = None
    type: str | None = None
    user: str | None = None


class SeccompProfile(KModel):
    type: str | None = None
    localhostProfile: str | None = None


class AppArmorProfile(KModel):
    type: str | None = None
    localhostProfile: str | None = None


class WindowsSecurityContextOptions(KModel):
    gmsaCredentialSpec: str | None = None
    gmsaCredentialSpecName: str | None = None
    hostProcess: bool | None = None
    runAsUserName: str | None = None


class SecurityContext(KModel):
    allowPrivilegeEscalation: bool | None = None
    appArmorProfile: AppArmorProfile | None = None
    capabilities: Capabilities | None = field(
        "The capabilities to add/drop when running containers."
    )
    privileged: bool | None = field("Run container in privileged mode.")
    procMount: str | None = None
    readOnlyRootFilesystem: bool | None = field(
        "Whether this container has a read-only root filesystem."
    )
    runAsGroup: int | None = None
    runAsNonRoot: bool | None = field("Indicates that the container must run as a non-root user.")
    runAsUser: int | None = field("The UID to run the entrypoint of the container process.")
    seLinuxOptions: SELinuxOptions | None = None
    seccompProfile: SeccompProfile | None = None
    windowsOptions: WindowsSecurityContextOptions | None = None


class ContainerResizePolicy(KModel):
    resourceName: str | None = None
    restartPolicy: str | None = None


class Container(KModel):
    """A single application container to run within a pod."""

    name: str | None = field("Name of the container specified as a DNS_LABEL.")
    image: str | None = field("Container image name.")
    command: list[str] | None = field("Entrypoint array. Not executed within a shell.")
    args: list[str] | None = field("Arguments to the entrypoint.")
    workingDir: str | None = field("Container's working directory.")
    ports: list[ContainerPort] | None = field("List of ports to expose from the container.")
    envFrom: list[EnvFromSource] | None = field(
        "Sources to populate environment variables in the container."
    )
    env: list[EnvVar] | None = field("List of environment variables to set in the container.")
    resources: ResourceRequirements | None = field("Compute Resources required by this container.")
    resizePolicy: list[ContainerResizePolicy] | None = None
    restartPolicy: str | None = field("Always, for an init container that is a sidecar.")
    volumeMounts: list[VolumeMount] | None = field(
        "Pod volumes to mount into the container's filesystem."
    )
    volumeDevices: list[VolumeDevice] | None = None
    livenessProbe: Probe | None = field("Periodic probe of container liveness.")
    readinessProbe: Probe | None = field("Periodic probe of container service readiness.")
    startupProbe: Probe | None = field(
        "StartupProbe indicates that the Pod has successfully initialized."
    )
    lifecycle: Lifecycle | None = field(
        "Actions that the management system should take in response to container lifecycle events."
    )
    terminationMessagePath: str | None = field(
        "Path at which the file to which the container's termination message will be written."
    )
    terminationMessagePolicy: str | None = field("File or FallbackToLogsOnError.")
    imagePullPolicy: str | None = field("One of Always, Never, IfNotPresent.")
    securityContext: SecurityContext | None = field(
        "Security options the container should be run with."
    )
    stdin: bool | None = field("Whether this container should allocate a buffer for stdin.")
    stdinOnce: bool | None = None
    tty: bool | None = field("Whether this container should allocate a TTY for itself.")


# --- volumes --------------------------------------------------------------------


class KeyToPath(KModel):
    key: str | None = field("The key to project.")
    path: str | None = field("The relative path of the file to map the key to.")
    mode: int | None = None


class EmptyDirVolumeSource(KModel):
    medium: str | None = field(
        'What type of storage medium should back this directory ("" or Memory).'
    )
    sizeLimit: Quantity | None = field(
        "Total amount of local storage required for this EmptyDir volume."
    )


class ConfigMapVolumeSource(KModel):
    name: str | None = field("Name of the ConfigMap.")
    items: list[KeyToPath] | None = None
    defaultMode: int | None = None
    optional: bool | None = None


class SecretVolumeSource(KModel):
    secretName: str | None = field("Name of the secret in the pod's namespace to use.")
    items: list[KeyToPath] | None = None
    defaultMode: int | None = None
    optional: bool | None = None


class HostPathVolumeSource(KModel):
    path: str | None = field("Path of the directory on the host.")
    type: str | None = None


class PersistentVolumeClaimVolumeSource(KModel):
    claimName: str | None = field("Name of a PersistentVolumeClaim in the same namespace.")
    readOnly: bool | None = None


class DownwardAPIVolumeFile(KModel):
    path: str | None = None
    fieldRef: ObjectFieldSelector | None = None
    resourceFieldRef: ResourceFieldSelector | None = None
    mode: int | None = None


class DownwardAPIVolumeSource(KModel):
    items: list[DownwardAPIVolumeFile] | None = None
    defaultMode: int | None = None


class DownwardAPIProjection(KModel):
    items: list[DownwardAPIVolumeFile] | None = None


class ConfigMapProjection(KModel):
    name: str | None = None
    items: list[KeyToPath] | None = None
    optional: bool | None = None


class SecretProjection(KModel):
    name: str | None = None
    items: list[KeyToPath] | None = None
    optional: bool | None = None


class ServiceAccountTokenProjection(KModel):
    audience: str | None = None
    expirationSeconds: int | None = None
    path: str | None = None


class VolumeProjection(KModel):
    configMap: ConfigMapProjection | None = None
    secret: SecretProjection | None = None
    downwardAPI: DownwardAPIProjection | None = None
    serviceAccountToken: ServiceAccountTokenProjection | None = None
    clusterTrustBundle: FreeForm | None = None


class ProjectedVolumeSource(KModel):
    sources: list[VolumeProjection] | None = None
    defaultMode: int | None = None


class NFSVolumeSource(KModel):
    server: str | None = None
    path: str | None = None
    readOnly: bool | None = None


class LocalVolumeSource(KModel):
    path: str | None = None
    fsType: str | None = None


class Volume(KModel):
    """A named volume in a pod that may be accessed by any container in the pod."""

    name: str | None = field("Name of the volume. Must be a DNS_LABEL and unique within the pod.")
    emptyDir: EmptyDirVolumeSource | None = field(
        "A temporary directory that shares a pod's lifetime."
    )
    configMap: ConfigMapVolumeSource | None = field("A configMap that should populate this volume.")
    secret: SecretVolumeSource | None = field("A secret that should populate this volume.")
    hostPath: HostPathVolumeSource | None = field(
        "A pre-existing file or directory on the host machine."
    )
    persistentVolumeClaim: PersistentVolumeClaimVolumeSource | None = field(
        "A reference to a PersistentVolumeClaim in the same namespace."
    )
    projected: ProjectedVolumeSource | None = field(
        "Items for all in one resources secrets, configmaps, and downward API."
    )
    downwardAPI: DownwardAPIVolumeSource | None = field(
        "Downward API about the pod that should populate this volume."
    )
    nfs: NFSVolumeSource | None = None
    csi: FreeForm | None = None
    ephemeral: FreeForm | None = None
    image: FreeForm | None = None
    awsElasticBlockStore: FreeForm | None = None
    azureDisk: FreeForm | None = None
    azureFile: FreeForm | None = None
    cephfs: FreeForm | None = None
    cinder: FreeForm | None = None
    fc: FreeForm | None = None
    flexVolume: FreeForm | None = None
    flocker: FreeForm | None = None
    gcePersistentDisk: FreeForm | None = None
    gitRepo: FreeForm | None = None
    glusterfs: FreeForm | None = None
    iscsi: FreeForm | None = None
    photonPersistentDisk: FreeForm | None = None
    portworxVolume: FreeForm | None = None
    quobyte: FreeForm | None = None
    rbd: FreeForm | None = None
    scaleIO: FreeForm | None = None
    storageos: FreeForm | None = None
    vsphereVolume: FreeForm | None = None


# --- scheduling -----------------------------------------------------------------


class NodeSelectorRequirement(KModel):
    key: str | None = None
    operator: str | None = field("In, NotIn, Exists, DoesNotExist, Gt, and Lt.")
    values: list[str] | None = None


class NodeSelectorTerm(KModel):
    matchExpressions: list[NodeSelectorRequirement] | None = None
    matchFields: list[NodeSelectorRequirement] | None = None


class NodeSelector(KModel):
    nodeSelectorTerms: list[NodeSelectorTerm] | None = field(
        "A list of node selector terms. The terms are ORed."
    )


class PreferredSchedulingTerm(KModel):
    weight: int | None = None
    preference: NodeSelectorTerm | None = None


class NodeAffinity(KModel):
    requiredDuringSchedulingIgnoredDuringExecution: NodeSelector | None = None
    preferredDuringSchedulingIgnoredDuringExecution: list[PreferredSchedulingTerm] | None = None


class PodAffinityTerm(KModel):
    labelSelector: LabelSelector | None = None
    namespaceSelector: LabelSelector | None = None
    namespaces: list[str] | None = None
    topologyKey: str | None = None
    matchLabelKeys: list[str] | None = None
    mismatchLabelKeys: list[str] | None = None


class WeightedPodAffinityTerm(KModel):
    weight: int | None = None
    podAffinityTerm: PodAffinityTerm | None = None


class PodAffinity(KModel):
    requiredDuringSchedulingIgnoredDuringExecution: list[PodAffinityTerm] | None = None
    preferredDuringSchedulingIgnoredDuringExecution: list[WeightedPodAffinityTerm] | None = None


class Affinity(KModel):
    nodeAffinity: NodeAffinity | None = field(
        "Describes node affinity scheduling rules for the pod."
    )
    podAffinity: PodAffinity | None = field("Describes pod affinity scheduling rules.")
    podAntiAffinity: PodAffinity | None = field("Describes pod anti-affinity scheduling rules.")


class Toleration(KModel):
    key: str | None = field("The taint key that the toleration applies to.")
    operator: str | None = field("Exists or Equal. Defaults to Equal.")
    value: str | None = None
    effect: str | None = field("NoSchedule, PreferNoSchedule or NoExecute; empty matches all.")
    tolerationSeconds: int | None = None


class TopologySpreadConstraint(KModel):
    maxSkew: int | None = None
    topologyKey: str | None = None
    whenUnsatisfiable: str | None = None
    labelSelector: LabelSelector | None = None
    minDomains: int | None = None
    nodeAffinityPolicy: str | None = None
    nodeTaintsPolicy: str | None = None
    matchLabelKeys: list[str] | None = None


class PodDNSConfigOption(KModel):
    name: str | None = None
    value: str | None = None


class PodDNSConfig(KModel):
    nameservers: list[str] | None = None
    searches: list[str] | None = None
    options: list[PodDNSConfigOption] | None = None


class HostAlias(KModel):
    ip: str | None = None
    hostnames: list[str] | None = None


class Sysctl(KModel):
    name: str | None = None
    value: str | None = None


class PodSecurityContext(KModel):
    appArmorProfile: AppArmorProfile | None = None
    fsGroup: int | None = None
    fsGroupChangePolicy: str | None = None
    runAsGroup: int | None = None
    runAsNonRoot: bool | None = field("Indicates that the container must run as a non-root user.")
    runAsUser: int | None = field("The UID to run the entrypoint of the container process.")
    seLinuxChangePolicy: str | None = None
    seLinuxOptions: SELinuxOptions | None = None
    seccompProfile: SeccompProfile | None = None
    supplementalGroups: list[int] | None = None
    supplementalGroupsPolicy: str | None = None
    sysctls: list[Sysctl] | None = None
    windowsOptions: WindowsSecurityContextOptions | None = None


class PodReadinessGate(KModel):
    conditionType: str | None = None


class PodOS(KModel):
    name: str | None = None


class PodSchedulingGate(KModel):
    name: str | None = None


class PodResourceClaim(KModel):
    name: str | None = None
    resourceClaimName: str | None = None
    resourceClaimTemplateName: str | None = None


class PodSpec(KModel):
    """Specification of the desired behavior of the pod."""

    containers: list[Container] | None = field("List of containers belonging to the pod.")
    initContainers: list[Container] | None = field(
        "List of initialization containers belonging to the pod."
    )
    ephemeralContainers: list[FreeForm] | None = None
    volumes: list[Volume] | None = field("List of volumes that can be mounted by containers.")
    restartPolicy: str | None = field(
        "Restart policy for all containers: Always, OnFailure, Never."
    )
    terminationGracePeriodSeconds: int | None = field(
        "Duration in seconds the pod needs to terminate gracefully. Defaults to 30 seconds."
    )
    activeDeadlineSeconds: int | None = None
    dnsPolicy: str | None = field("ClusterFirstWithHostNet, ClusterFirst, Default or None.")
    dnsConfig: PodDNSConfig | None = None
    nodeSelector: dict[str, str] | None = field(
        "A selector which must be true for the pod to fit on a node."
    )
    serviceAccountName: str | None = field("Name of the ServiceAccount to use to run this pod.")
    serviceAccount: str | None = field("Deprecated alias for serviceAccountName.")
    automountServiceAccountToken: bool | None = None
    nodeName: str | None = field("The node this pod is bound to (set by the scheduler).")
    hostNetwork: bool | None = field("Host networking requested for this pod.")
    hostPID: bool | None = None
    hostIPC: bool | None = None
    hostUsers: bool | None = None
    shareProcessNamespace: bool | None = None
    securityContext: PodSecurityContext | None = field("Pod-level security attributes.")
    imagePullSecrets: list[LocalObjectReference] | None = None
    hostname: str | None = field("Specifies the hostname of the Pod.")
    subdomain: str | None = field(
        'The pod\'s FQDN is "<hostname>.<subdomain>.<ns>.svc.<cluster domain>".'
    )
    setHostnameAsFQDN: bool | None = None
    affinity: Affinity | None = field("If specified, the pod's scheduling constraints.")
    schedulerName: str | None = field("The scheduler that dispatches this pod.")
    tolerations: list[Toleration] | None = field("If specified, the pod's tolerations.")
    hostAliases: list[HostAlias] | None = None
    priorityClassName: str | None = field("If specified, indicates the pod's priority.")
    priority: int | None = field("The priority value, resolved from priorityClassName.")
    preemptionPolicy: str | None = None
    readinessGates: list[PodReadinessGate] | None = None
    runtimeClassName: str | None = None
    enableServiceLinks: bool | None = None
    overhead: ResourceList | None = None
    topologySpreadConstraints: list[TopologySpreadConstraint] | None = field(
        "How a group of pods ought to spread across topology domains."
    )
    os: PodOS | None = None
    schedulingGates: list[PodSchedulingGate] | None = None
    resourceClaims: list[PodResourceClaim] | None = None
    resources: ResourceRequirements | None = None


class ContainerStateWaiting(KModel):
    reason: str | None = None
    message: str | None = None


class ContainerStateRunning(KModel):
    startedAt: str | None = None


class ContainerStateTerminated(KModel):
    exitCode: int | None = None
    signal: int | None = None
    reason: str | None = None
    message: str | None = None
    startedAt: str | None = None
    finishedAt: str | None = None
    containerID: str | None = None


class ContainerState(KModel):
    waiting: ContainerStateWaiting | None = None
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(KModel):
    name: str | None = None
    state: ContainerState | None = None
    lastState: ContainerState | None = None
    ready: bool | None = None
    restartCount: int | None = None
    image: str | None = None
    imageID: str | None = None
    containerID: str | None = None
    started: bool | None = None
    allocatedResources: ResourceList | None = None
    allocatedResourcesStatus: list[FreeForm] | None = None
    resources: ResourceRequirements | None = None
    user: FreeForm | None = None
    volumeMounts: list[FreeForm] | None = None
    stopSignal: str | None = None


class PodCondition(KModel):
    type: str | None = None
    status: str | None = None
    observedGeneration: int | None = None
    lastProbeTime: str | None = None
    lastTransitionTime: str | None = None
    reason: str | None = None
    message: str | None = None


class PodIP(KModel):
    ip: str | None = None


class PodStatus(KModel):
    """Most recently observed status of the pod."""

    phase: str | None = field("Pending, Running, Succeeded, Failed or Unknown.")
    conditions: list[PodCondition] | None = field("Current service state of pod.")
    message: str | None = None
    reason: str | None = None
    nominatedNodeName: str | None = None
    hostIP: str | None = field("IP address of the host to which the pod is assigned.")
    hostIPs: list[PodIP] | None = None
    podIP: str | None = field("IP address allocated to the pod.")
    podIPs: list[PodIP] | None = None
    startTime: str | None = None
    initContainerStatuses: list[ContainerStatus] | None = None
    containerStatuses: list[ContainerStatus] | None = None
    ephemeralContainerStatuses: list[ContainerStatus] | None = None
    qosClass: str | None = field("Guaranteed, Burstable or BestEffort.")
    resize: str | None = None
    resourceClaimStatuses: list[FreeForm] | None = None
    observedGeneration: int | None = None


class Pod(APIObject):
    """A collection of containers that can run on a host."""

    spec: PodSpec | None = field("Specification of the desired behavior of the pod.")
    status: PodStatus | None = field("Most recently observed status of the pod.")


class PodTemplateSpec(KModel):
    metadata: ObjectMeta | None = field("Standard object's metadata.")
    spec: PodSpec | None = field("Specification of the desired behavior of the pod.")


# --- namespaces and nodes -------------------------------------------------------


class NamespaceSpec(KModel):
    finalizers: list[str] | None = None


class NamespaceStatus(KModel):
    phase: str | None = field("Active or Terminating.")
    conditions: list[PodCondition] | None = None


class Namespace(APIObject):
    """A scope for names."""

    spec: NamespaceSpec | None = None
    status: NamespaceStatus | None = None


class Taint(KModel):
    key: str | None = field("The taint key to be applied to a node.")
    value: str | None = None
    effect: str | None = field("NoSchedule, PreferNoSchedule or NoExecute.")
    timeAdded: str | None = None


class NodeSpec(KModel):
    podCIDR: str | None = None
    podCIDRs: list[str] | None = None
    providerID: str | None = None
    unschedulable: bool | None = field("Controls node schedulability of new pods.")
    taints: list[Taint] | None = field("If specified, the node's taints.")
    configSource: FreeForm | None = None
    externalID: str | None = None


class NodeAddress(KModel):
    type: str | None = None
    address: str | None = None


class NodeCondition(KModel):
    type: str | None = None
    status: str | None = None
    lastHeartbeatTime: str | None = None
    lastTransitionTime: str | None = None
    reason: str | None = None
    message: str | None = None


class DaemonEndpoint(KModel):
    Port: int | None = None


class NodeDaemonEndpoints(KModel):
    kubeletEndpoint: DaemonEndpoint | None = None


class NodeSystemInfo(KModel):
    machineID: str | None = None
    systemUUID: str | None = None
    bootID: str | None = None
    kernelVersion: str | None = None
    osImage: str | None = None
    containerRuntimeVersion: str | None = None
    kubeletVersion: str | None = None
    kubeProxyVersion: str | None = None
    operatingSystem: str | None = None
    architecture: str | None = None
    swap: FreeForm | None = None


class ContainerImage(KModel):
    names: list[str] | None = None
    sizeBytes: int | None = None


class NodeStatus(KModel):
    capacity: ResourceList | None = None
    allocatable: ResourceList | None = None
    phase: str | None = None
    conditions: list[NodeCondition] | None = None
    addresses: list[NodeAddress] | None = None
    daemonEndpoints: NodeDaemonEndpoints | None = None
    nodeInfo: NodeSystemInfo | None = None
    images: list[ContainerImage] | None = None
    volumesInUse: list[str] | None = None
    volumesAttached: list[FreeForm] | None = None
    config: FreeForm | None = None
    runtimeHandlers: list[FreeForm] | None = None
    features: FreeForm | None = None


class Node(APIObject):
    """A worker node."""

    spec: NodeSpec | None = None
    status: NodeStatus | None = None


# --- services -------------------------------------------------------------------


class ServicePort(KModel):
    name: str | None = field("The name of this port within the service.")
    protocol: str | None = field('The IP protocol for this port: "TCP", "UDP", or "SCTP".')
    appProtocol: str | None = None
    port: int | None = field("The port that will be exposed by this service.")
    targetPort: IntOrString | None = field("Number or name of the port to access on the pods.")
    nodePort: int | None = field("The port on each node on which this service is exposed.")


class ClientIPConfig(KModel):
    timeoutSeconds: int | None = None


class SessionAffinityConfig(KModel):
    clientIP: ClientIPConfig | None = None


class ServiceSpec(KModel):
    """Behavior of a service."""

    ports: list[ServicePort] | None = field("The list of ports that are exposed by this service.")
    selector: dict[str, str] | None = field(
        "Route service traffic to pods with label keys and values matching this selector."
    )
    clusterIP: str | None = field("The IP address of the service, usually assigned randomly.")
    clusterIPs: list[str] | None = None
    type: str | None = field("ExternalName, ClusterIP, NodePort, and LoadBalancer.")
    externalIPs: list[str] | None = None
    sessionAffinity: str | None = field("ClientIP or None. Defaults to None.")
    loadBalancerIP: str | None = None
    loadBalancerSourceRanges: list[str] | None = None
    externalName: str | None = None
    externalTrafficPolicy: str | None = None
    healthCheckNodePort: int | None = None
    publishNotReadyAddresses: bool | None = None
    sessionAffinityConfig: SessionAffinityConfig | None = None
    ipFamilies: list[str] | None = None
    ipFamilyPolicy: str | None = None
    allocateLoadBalancerNodePorts: bool | None = None
    loadBalancerClass: str | None = None
    internalTrafficPolicy: str | None = None
    trafficDistribution: str | None = None


class PortStatus(KModel):
    port: int | None = None
    protocol: str | None = None
    error: str | None = None


class LoadBalancerIngress(KModel):
    ip: str | None = None
    hostname: str | None = None
    ipMode: str | None = None
    ports: list[PortStatus] | None = None


class LoadBalancerStatus(KModel):
    ingress: list[LoadBalancerIngress] | None = None


class ServiceStatus(KModel):
    loadBalancer: LoadBalancerStatus | None = None
    conditions: list[Condition] | None = None


class Service(APIObject):
    """A named abstraction of software service."""

    spec: ServiceSpec | None = field("Spec defines the behavior of a service.")
    status: ServiceStatus | None = None


class EndpointAddress(KModel):
    ip: str | None = None
    hostname: str | None = None
    nodeName: str | None = None
    targetRef: ObjectReference | None = None


class EndpointPort(KModel):
    name: str | None = None
    port: int | None = None
    protocol: str | None = None
    appProtocol: str | None = None


class EndpointSubset(KModel):
    addresses: list[EndpointAddress] | None = None
    notReadyAddresses: list[EndpointAddress] | None = None
    ports: list[EndpointPort] | None = None


class Endpoints(APIObject):
    """The set of endpoints that implement a service."""

    subsets: list[EndpointSubset] | None = field(
        "The set of all endpoints is the union of all subsets."
    )


# --- configuration --------------------------------------------------------------


class ConfigMap(APIObject):
    """Configuration data for pods to consume."""

    data: dict[str, str] | None = field("Configuration data.")
    binaryData: dict[str, str] | None = field("Binary data, base64 encoded.")
    immutable: bool | None = field("If set to true, the data cannot be updated.")


class Secret(APIObject):
    """Secret data of a certain type; values are base64 encoded."""

    data: dict[str, str] | None = field("Secret data, base64 encoded.")
    stringData: dict[str, str] | None = field("Write-only convenience field: merged into data.")
    type: str | None = field("Used to facilitate programmatic handling of secret data.")
    immutable: bool | None = field("If set to true, the data cannot be updated.")


class EventSource(KModel):
    component: str | None = None
    host: str | None = None


class EventSeries(KModel):
    count: int | None = None
    lastObservedTime: str | None = None


class Event(APIObject):
    """A report of an event somewhere in the cluster."""

    involvedObject: ObjectReference | None = field("The object that this event is about.")
    reason: str | None = field("Short, machine understandable string for the transition.")
    message: str | None = field("A human-readable description of the status of this operation.")
    source: EventSource | None = None
    firstTimestamp: str | None = None
    lastTimestamp: str | None = None
    count: int | None = field("The number of times this event has occurred.")
    type: str | None = field("Normal or Warning.")
    eventTime: str | None = None
    series: EventSeries | None = None
    action: str | None = None
    related: ObjectReference | None = None
    reportingComponent: str | None = None
    reportingInstance: str | None = None


class ServiceAccount(APIObject):
    """An identity for processes that run in a pod."""

    secrets: list[ObjectReference] | None = None
    imagePullSecrets: list[LocalObjectReference] | None = None
    automountServiceAccountToken: bool | None = None


class ScopedResourceSelectorRequirement(KModel):
    scopeName: str | None = None
    operator: str | None = None
    values: list[str] | None = None


class ScopeSelector(KModel):
    matchExpressions: list[ScopedResourceSelectorRequirement] | None = None


class ResourceQuotaSpec(KModel):
    hard: ResourceList | None = field("The desired hard limits for each named resource.")
    scopes: list[str] | None = None
    scopeSelector: ScopeSelector | None = None


class ResourceQuotaStatus(KModel):
    hard: ResourceList | None = None
    used: ResourceList | None = None


class ResourceQuota(APIObject):
    """Aggregate quota restrictions enforced per namespace."""

    spec: ResourceQuotaSpec | None = None
    status: ResourceQuotaStatus | None = None


class LimitRangeItem(KModel):
    type: str | None = field(
        "Type of resource that this limit applies to (Container, Pod, PersistentVolumeClaim)."
    )
    max: ResourceList | None = None
    min: ResourceList | None = None
    default: ResourceList | None = None
    defaultRequest: ResourceList | None = None
    maxLimitRequestRatio: ResourceList | None = None


class LimitRangeSpec(KModel):
    limits: list[LimitRangeItem] | None = None


class LimitRange(APIObject):
    """Resource limits per kind of resource in a namespace."""

    spec: LimitRangeSpec | None = None


# --- storage --------------------------------------------------------------------


class TypedObjectReference(KModel):
    apiGroup: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None


class VolumeResourceRequirements(KModel):
    limits: ResourceList | None = None
    requests: ResourceList | None = None


class PersistentVolumeClaimSpec(KModel):
    accessModes: list[str] | None = field(
        "ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod."
    )
    selector: LabelSelector | None = None
    resources: VolumeResourceRequirements | None = field(
        "The minimum resources the volume should have."
    )
    volumeName: str | None = None
    storageClassName: str | None = None
    volumeMode: str | None = None
    dataSource: TypedLocalObjectReference | None = None
    dataSourceRef: TypedObjectReference | None = None
    volumeAttributesClassName: str | None = None


class PersistentVolumeClaimStatus(KModel):
    phase: str | None = None
    accessModes: list[str] | None = None
    capacity: ResourceList | None = None
    conditions: list[PodCondition] | None = None
    allocatedResources: ResourceList | None = None
    allocatedResourceStatuses: dict[str, str] | None = None
    currentVolumeAttributesClassName: str | None = None
    modifyVolumeStatus: FreeForm | None = None


class PersistentVolumeClaim(APIObject):
    """A user's request for and claim to a persistent volume."""

    spec: PersistentVolumeClaimSpec | None = None
    status: PersistentVolumeClaimStatus | None = None


class VolumeNodeAffinity(KModel):
    required: NodeSelector | None = None


class PersistentVolumeSpec(KModel):
    capacity: ResourceList | None = None
    accessModes: list[str] | None = None
    claimRef: ObjectReference | None = None
    persistentVolumeReclaimPolicy: str | None = None
    storageClassName: str | None = None
    mountOptions: list[str] | None = None
    volumeMode: str | None = None
    nodeAffinity: VolumeNodeAffinity | None = None
    volumeAttributesClassName: str | None = None
    hostPath: HostPathVolumeSource | None = None
    local: LocalVolumeSource | None = None
    nfs: NFSVolumeSource | None = None
    csi: FreeForm | None = None
    awsElasticBlockStore: FreeForm | None = None
    azureDisk: FreeForm | None = None
    azureFile: FreeForm | None = None
    cephfs: FreeForm | None = None
    cinder: FreeForm | None = None
    fc: FreeForm | None = None
    flexVolume: FreeForm | None = None
    flocker: FreeForm | None = None
    gcePersistentDisk: FreeForm | None = None
    glusterfs: FreeForm | None = None
    iscsi: FreeForm | None = None
    photonPersistentDisk: FreeForm | None = None
    portworxVolume: FreeForm | None = None
    quobyte: FreeForm | None = None
    rbd: FreeForm | None = None
    scaleIO: FreeForm | None = None
    storageos: FreeForm | None = None
    vsphereVolume: FreeForm | None = None


class PersistentVolumeStatus(KModel):
    phase: str | None = None
    message: str | None = None
    reason: str | None = None
    lastPhaseTransitionTime: str | None = None


class PersistentVolume(APIObject):
    """A storage resource provisioned by an administrator."""

    spec: PersistentVolumeSpec | None = None
    status: PersistentVolumeStatus | None = None
