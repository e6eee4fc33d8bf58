"""What the cluster DNS answers, from Services and Endpoints (no I/O).

The names follow Kubernetes' DNS specification (what CoreDNS's `kubernetes`
plugin serves), in the cluster domain (`cluster.local`):

- `<svc>.<ns>.svc.cluster.local`: A = the ClusterIP; for a headless Service,
  one A per ready endpoint; for an ExternalName Service, a CNAME to the
  external name (chased when it is a name of the cluster domain, never
  asked of another server);
- `<hostname>.<svc>.<ns>.svc.cluster.local`: the endpoint whose hostname
  (StatefulSet pods, pods with hostname+subdomain) or dashed IP it names;
- `_<port>._<proto>.<svc>.<ns>.svc.cluster.local`: SRV for a named port (the
  Service name as target, or every endpoint for a headless Service);
- `<a-b-c-d>.<ns>.pod.cluster.local`: A = a.b.c.d.

Unknown names in the zone are NXDOMAIN (so resolvers walk their search path
quickly); a known name without records of the asked type is an empty NOERROR;
names outside the zone are REFUSED: this server forwards nothing anywhere.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

JSON = dict[str, Any]
TTL = 5  # CoreDNS's kubernetes plugin default

NOERROR = "NOERROR"
NXDOMAIN = "NXDOMAIN"
REFUSED = "REFUSED"


class Cache(Protocol):
    def get_by_key(self, key: str) -> JSON | None: ...


@dataclass(frozen=True)
class Record:
    name: str  # fully qualified, no trailing dot
    type: str  # A, CNAME, SRV, SOA
    value: str  # address, target, or SRV target
    port: int = 0  # SRV only
    priority: int = 0
    weight: int = 0
    ttl: int = TTL


@dataclass
class Answer:
    rcode: str
    records: list[Record] = field(default_factory=list)
    additional: list[Record] = field(default_factory=list)
    authoritative: bool = True


def dashed(ip: str) -> str:
    return ip.replace(".", "-")


def _ready_addresses(endpoints: JSON | None) -> list[JSON]:
    seen: dict[str, JSON] = {}
    for subset in (endpoints or {}).get("subsets") or []:
        for address in subset.get("addresses") or []:
            seen.setdefault(str(address.get("ip")), address)
    return [seen[ip] for ip in sorted(seen)]


def _endpoint_ports(endpoints: JSON | None, name: str, protocol: str) -> list[tuple[str, int]]:
    """(ip, port) for every ready address serving the named port."""
    result = []
    for subset in (endpoints or {}).get("subsets") or []:
        for port in subset.get("ports") or []:
            if (port.get("name") or "") != name:
                continue
            if (port.get("protocol") or "TCP").upper() != protocol:
                continue
            for address in subset.get("addresses") or []:
                result.append((str(address.get("ip")), int(port["port"])))
    return sorted(set(result))


def _hostname_of(endpoints: JSON | None, ip: str) -> str:
    for subset in (endpoints or {}).get("subsets") or []:
        for address in subset.get("addresses") or []:
            if address.get("ip") == ip and address.get("hostname"):
                return str(address["hostname"])
    return dashed(ip)


class Resolver:
    def __init__(self, *, services: Cache, endpoints: Cache, zone: str = "cluster.local") -> None:
        self.services = services
        self.endpoints = endpoints
        self.zone = zone.strip(".").lower()

    def soa(self) -> Record:
        return Record(self.zone, "SOA", f"ns.dns.{self.zone}")

    def resolve(self, qname: str, qtype: str, depth: int = 0) -> Answer:
        """The answer to one question (`qtype` as A, AAAA, SRV, ANY...)."""
        name = qname.strip(".").lower()
        zone = self.zone
        if name == zone:
            return Answer(NOERROR, [self.soa()] if qtype in ("SOA", "ANY") else [])
        if not name.endswith("." + zone):
            return Answer(REFUSED, authoritative=False)
        labels = name[: -len(zone) - 1].split(".")
        if labels[-1] == "svc":
            records = self._service_records(name, labels[:-1])
        elif labels[-1] == "pod":
            records = self._pod_records(name, labels[:-1])
        else:
            records = None
        if records is None:
            return Answer(NXDOMAIN)
        return self._filter(records, qtype, depth)

    def _filter(self, records: list[Record], qtype: str, depth: int) -> Answer:
        cnames = [r for r in records if r.type == "CNAME"]
        if cnames and qtype != "CNAME":
            # An ExternalName pointing into the cluster: chase it here, since stub
            # resolvers expect the records of the target in the same answer.
            target = cnames[0].value.lower()
            if depth < 8 and target.endswith("." + self.zone):
                chased = self.resolve(target, qtype, depth + 1)
                return Answer(NOERROR, cnames + chased.records, chased.additional)
            return Answer(NOERROR, cnames)
        if qtype == "ANY":
            return Answer(NOERROR, records)
        chosen = [r for r in records if r.type == qtype]
        additional: list[Record] = []
        if qtype == "SRV":
            targets = {r.value for r in chosen}
            additional = [r for r in records if r.type == "A" and r.name in targets]
        return Answer(NOERROR, chosen, additional)

    def _service(self, namespace: str, name: str) -> JSON | None:
        return self.services.get_by_key(f"{namespace}/{name}")

    def _service_records(self, fqdn: str, labels: list[str]) -> list[Record] | None:
        if len(labels) == 2:
            svc_name, namespace = labels
            return self._service_name_records(fqdn, namespace, svc_name)
        if len(labels) == 3:
            host, svc_name, namespace = labels
            return self._endpoint_name_records(fqdn, namespace, svc_name, host)
        if len(labels) == 4 and labels[0].startswith("_") and labels[1].startswith("_"):
            port, proto, svc_name, namespace = labels
            return self._srv_records(fqdn, namespace, svc_name, port[1:], proto[1:].upper())
        return None

    def _service_name_records(self, fqdn: str, namespace: str, name: str) -> list[Record] | None:
        svc = self._service(namespace, name)
        if svc is None:
            return None
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            target = str(spec.get("externalName") or "").strip(".")
            return [Record(fqdn, "CNAME", target)] if target else []
        cluster_ip = spec.get("clusterIP") or ""
        if cluster_ip and cluster_ip != "None":
            records = [Record(fqdn, "A", cluster_ip)]
            for port in spec.get("ports") or []:
                records.append(Record(fqdn, "SRV", fqdn, port=int(port["port"]), weight=100))
            return records
        # headless: every ready endpoint
        eps = self.endpoints.get_by_key(f"{namespace}/{name}")
        records = []
        for address in _ready_addresses(eps):
            ip = str(address["ip"])
            records.append(Record(fqdn, "A", ip))
        return records

    def _endpoint_name_records(
        self, fqdn: str, namespace: str, svc_name: str, host: str
    ) -> list[Record] | None:
        if self._service(namespace, svc_name) is None:
            return None
        eps = self.endpoints.get_by_key(f"{namespace}/{svc_name}")
        records = [
            Record(fqdn, "A", str(a["ip"]))
            for a in _ready_addresses(eps)
            if (a.get("hostname") or dashed(str(a["ip"]))) == host
        ]
        return records or None

    def _srv_records(
        self, fqdn: str, namespace: str, svc_name: str, port_name: str, protocol: str
    ) -> list[Record] | None:
        svc = self._service(namespace, svc_name)
        if svc is None:
            return None
        spec = svc.get("spec") or {}
        ports = [
            p
            for p in spec.get("ports") or []
            if (p.get("name") or "") == port_name and (p.get("protocol") or "TCP") == protocol
        ]
        if not ports:
            return None
        base = f"{svc_name}.{namespace}.svc.{self.zone}"
        cluster_ip = spec.get("clusterIP") or ""
        if cluster_ip and cluster_ip != "None":
            return [
                Record(fqdn, "SRV", base, port=int(ports[0]["port"]), weight=100),
                Record(base, "A", cluster_ip),
            ]
        eps = self.endpoints.get_by_key(f"{namespace}/{svc_name}")
        records = []
        for ip, port in _endpoint_ports(eps, port_name, protocol):
            target = f"{_hostname_of(eps, ip)}.{base}"
            records.append(Record(fqdn, "SRV", target, port=port, weight=100))
            records.append(Record(target, "A", ip))
        return records

    def _pod_records(self, fqdn: str, labels: list[str]) -> list[Record] | None:
        if len(labels) != 2:
            return None
        try:
            ip = ipaddress.IPv4Address(labels[0].replace("-", "."))
        except ValueError:
            return None
        return [Record(fqdn, "A", str(ip))]


def unique(records: Iterable[Record]) -> list[Record]:
    return list(dict.fromkeys(records))
