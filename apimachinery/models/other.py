"""API models outside core and workloads: Ingress and IngressClass
(networking.k8s.io), EndpointSlice (discovery.k8s.io), Lease
(coordination.k8s.io), PriorityClass (scheduling.k8s.io) and
SelfSubjectAccessReview (authorization.k8s.io)."""

from __future__ import annotations

from apimachinery.models.base import (
    APIObject,
    KModel,
    ObjectReference,
    TypedLocalObjectReference,
    field,
)
from apimachinery.models.core import LoadBalancerStatus

# --- networking.k8s.io ----------------------------------------------------------


class ServiceBackendPort(KModel):
    name: str | None = field("The name of the port on the Service.")
    number: int | None = field("The numerical port number on the Service.")


class IngressServiceBackend(KModel):
    name: str | None = field("The referenced service.")
    port: ServiceBackendPort | None = field("Port of the referenced service.")


class IngressBackend(KModel):
    service: IngressServiceBackend | None = field("A referenced Service as a Backend.")
    resource: TypedLocalObjectReference | None = None


class HTTPIngressPath(KModel):
    path: str | None = field("Matched against the path of an incoming request.")
    pathType: str | None = field("Exact, Prefix or ImplementationSpecific.")
    backend: IngressBackend | None = field("Where matching traffic will be sent.")


class HTTPIngressRuleValue(KModel):
    paths: list[HTTPIngressPath] | None = None


class IngressRule(KModel):
    host: str | None = field("The fully qualified domain name of a network host.")
    http: HTTPIngressRuleValue | None = None


class IngressTLS(KModel):
    hosts: list[str] | None = None
    secretName: str | None = None


class IngressSpec(KModel):
    ingressClassName: str | None = field("The name of an IngressClass cluster resource.")
    defaultBackend: IngressBackend | None = field("The backend for requests that match no rule.")
    tls: list[IngressTLS] | None = None
    rules: list[IngressRule] | None = field("A list of host rules used to configure the Ingress.")


class IngressStatus(KModel):
    loadBalancer: LoadBalancerStatus | None = None


class Ingress(APIObject):
    """Rules that allow inbound connections to reach the endpoints defined by a backend."""

    spec: IngressSpec | None = None
    status: IngressStatus | None = None


class IngressClassParametersReference(KModel):
    apiGroup: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    scope: str | None = None


class IngressClassSpec(KModel):
    controller: str | None = field("The name of the controller that should handle this class.")
    parameters: IngressClassParametersReference | None = None


class IngressClass(APIObject):
    """The class of an Ingress, referenced by the Ingress spec."""

    spec: IngressClassSpec | None = None


# --- discovery.k8s.io -----------------------------------------------------------


class EndpointConditions(KModel):
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class ForZone(KModel):
    name: str | None = None


class EndpointHints(KModel):
    forZones: list[ForZone] | None = None
    forNodes: list[ForZone] | None = None


class Endpoint(KModel):
    addresses: list[str] | None = field("Addresses of this endpoint.")
    conditions: EndpointConditions | None = None
    hostname: str | None = None
    targetRef: ObjectReference | None = None
    deprecatedTopology: dict[str, str] | None = None
    nodeName: str | None = None
    zone: str | None = None
    hints: EndpointHints | None = None


class EndpointSlicePort(KModel):
    name: str | None = None
    protocol: str | None = None
    port: int | None = None
    appProtocol: str | None = None


class EndpointSlice(APIObject):
    """A subset of the endpoints that implement a service."""

    addressType: str | None = field("IPv4, IPv6 or FQDN.")
    endpoints: list[Endpoint] | None = field("A list of unique endpoints in this slice.")
    ports: list[EndpointSlicePort] | None = None


# --- coordination.k8s.io --------------------------------------------------------


class LeaseSpec(KModel):
    holderIdentity: str | None = field("The identity of the holder of a current lease.")
    leaseDurationSeconds: int | None = field(
        "Duration that candidates for a lease need to wait to force acquire it."
    )
    acquireTime: str | None = None
    renewTime: str | None = None
    leaseTransitions: int | None = None
    strategy: str | None = None
    preferredHolder: str | None = None


class Lease(APIObject):
    """A lease concept (leader election, node heartbeats)."""

    spec: LeaseSpec | None = None


# --- scheduling.k8s.io ----------------------------------------------------------


class PriorityClass(APIObject):
    """A mapping from a priority class name to the priority integer value."""

    value: int | None = field("The actual priority that pods receive.")
    globalDefault: bool | None = None
    description: str | None = None
    preemptionPolicy: str | None = None


# --- authorization.k8s.io -------------------------------------------------------


class ResourceAttributes(KModel):
    namespace: str | None = None
    verb: str | None = None
    group: str | None = None
    version: str | None = None
    resource: str | None = None
    subresource: str | None = None
    name: str | None = None
    fieldSelector: dict[str, object] | None = None
    labelSelector: dict[str, object] | None = None


class NonResourceAttributes(KModel):
    path: str | None = None
    verb: str | None = None


class SelfSubjectAccessReviewSpec(KModel):
    resourceAttributes: ResourceAttributes | None = None
    nonResourceAttributes: NonResourceAttributes | None = None


class SubjectAccessReviewStatus(KModel):
    allowed: bool | None = None
    denied: bool | None = None
    reason: str | None = None
    evaluationError: str | None = None


class SelfSubjectAccessReview(APIObject):
    """Checks whether the current user can perform an action."""

    spec: SelfSubjectAccessReviewSpec | None = None
    status: SubjectAccessReviewStatus | None = None
