"""ClusterIP and NodePort allocation for Services (an admission plugin).

A Service gets a stable virtual IP from the service CIDR
(`--service-cluster-ip-range`, 10.96.0.0/12) and, for NodePort and
LoadBalancer Services, a port in 30000-32767 on every node. Two Services must
never share either, even when they are created at the same instant through
two apiservers, so every allocation is a key in etcd created with create-only
semantics (`txn(create_revision == 0)`), the way upstream's IPAddress objects
work: `/registry/ipaddresses/<ip>` and `/registry/servicenodeports/<port>`,
each holding the owning Service (`namespace/name`) and when it was claimed.

- A requested `clusterIP` or `nodePort` is honoured, or refused with upstream's
  422 wording (already allocated, not in the valid range).
- `clusterIP: None` makes a headless Service; ExternalName gets no IP.
- Dynamic ClusterIPs avoid the first addresses of the range (upstream's static
  band, KEP-3070), which are meant for well-known Services that ask for a fixed
  IP: `kubernetes` (the first address) and `kube-dns` (10.96.0.10).
- Deleting a Service frees what it held. A claim whose Service does not exist
  (a create that failed after allocation, an apiserver that died in between) is
  stale after a grace period and is taken over when its IP or port is needed.

The decisions (what a Service needs, which free value to pick) are pure
functions; the store is a small Protocol with the etcd implementation here and
an in-memory one in the unit tests.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from apimachinery import errors
from apimachinery.scheme import lookup

log = logging.getLogger("apiserver")

JSON = dict[str, Any]

IP_PREFIX = "/registry/ipaddresses/"
NODE_PORT_PREFIX = "/registry/servicenodeports/"
DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
DEFAULT_NODE_PORT_RANGE = (30000, 32767)
# A claim younger than this is never taken over: its Service may be on its way
# into etcd right now.
STALE_AFTER_S = 30.0
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")

# Looks a Service up by (namespace, name); None when it does not exist.
ServiceGetter = Callable[[str, str], Awaitable[JSON | None]]


@dataclass(frozen=True)
class Claim:
    owner: str  # "namespace/name" of the Service
    claimed_at: float
    revision: int  # etcd mod_revision, for a compare-and-swap take-over


class AllocationStore(Protocol):
    """Create-only keys with an owner; the only shared state of the allocator."""

    async def claim(self, key: str, owner: str) -> bool:
        """Create `key` for `owner`; False when it already exists."""
        ...

    async def get(self, key: str) -> Claim | None: ...

    async def take_over(self, key: str, owner: str, revision: int) -> bool:
        """Give `key` to `owner` if it is still at `revision` (compare-and-swap)."""
        ...

    async def release(self, key: str, owner: str) -> None:
        """Delete `key` if `owner` still holds it."""
        ...

    async def keys(self, prefix: str) -> set[str]: ...


def _claim_value(owner: str) -> bytes:
    return json.dumps({"owner": owner, "claimedAt": time.time()}).encode()


def _parse_claim(value: bytes, revision: int) -> Claim:
    try:
        data = json.loads(value)
        return Claim(str(data["owner"]), float(data["claimedAt"]), revision)
    except (ValueError, KeyError, TypeError):
        return Claim("", 0.0, revision)


class EtcdAllocationStore:
    """`AllocationStore` on an aetcd client (the apiserver's own connection)."""

    def __init__(self, client: Any) -> None:
        self._etcd = client

    async def claim(self, key: str, owner: str) -> bool:
        t = self._etcd.transactions
        ok, _ = await self._etcd.transaction(
            compare=[t.create(key.encode()) == 0],
            success=[t.put(key.encode(), _claim_value(owner))],
            failure=[],
        )
        return bool(ok)

    async def get(self, key: str) -> Claim | None:
        result = await self._etcd.get(key.encode())
        if result is None:
            return None
        return _parse_claim(result.value, int(result.mod_revision))

    async def take_over(self, key: str, owner: str, revision: int) -> bool:
        t = self._etcd.transactions
        ok, _ = await self._etcd.transaction(
            compare=[t.mod(key.encode()) == revision],
            success=[t.put(key.encode(), _claim_value(owner))],
            failure=[],
        )
        return bool(ok)

    async def release(self, key: str, owner: str) -> None:
        claim = await self.get(key)
        if claim is None or claim.owner != owner:
            return
        t = self._etcd.transactions
        await self._etcd.transaction(
            compare=[t.mod(key.encode()) == claim.revision],
            success=[t.delete(key.encode())],
            failure=[],
        )

    async def keys(self, prefix: str) -> set[str]:
        result = await self._etcd.get_prefix(prefix.encode(), keys_only=True)
        return {kv.key.decode()[len(prefix) :] for kv in result}


class KVAllocationStore:
    """`AllocationStore` on the apiserver's own `apiserver.store.Store` (its etcd door)."""

    def __init__(self, store: Any) -> None:
        self._store = store

    async def claim(self, key: str, owner: str) -> bool:
        result = await self._store.create(key, _claim_value(owner))
        return bool(result.succeeded)

    async def get(self, key: str) -> Claim | None:
        kv = await self._store.get(key)
        return None if kv is None else _parse_claim(kv.value, int(kv.mod_revision))

    async def take_over(self, key: str, owner: str, revision: int) -> bool:
        result = await self._store.update(key, _claim_value(owner), revision)
        return bool(result.succeeded)

    async def release(self, key: str, owner: str) -> None:
        claim = await self.get(key)
        if claim is not None and claim.owner == owner:
            await self._store.delete(key, claim.revision)

    async def keys(self, prefix: str) -> set[str]:
        found: set[str] = set()
        start = ""
        while True:
            kvs, more, _ = await self._store.range(prefix, start_key=start, limit=1000)
            found.update(kv.key[len(prefix) :] for kv in kvs)
            if not more or not kvs:
                return found
            start = kvs[-1].key + "\0"


class MemoryAllocationStore:
    """`AllocationStore` in a dict: for unit tests and for a single process."""

    def __init__(self) -> None:
        self.data: dict[str, Claim] = {}
        self._revision = 0

    def _next(self) -> int:
        self._revision += 1
        return self._revision

    async def claim(self, key: str, owner: str) -> bool:
        if key in self.data:
            return False
        self.data[key] = Claim(owner, time.time(), self._next())
        return True

    async def get(self, key: str) -> Claim | None:
        return self.data.get(key)

    async def take_over(self, key: str, owner: str, revision: int) -> bool:
        current = self.data.get(key)
        if current is None or current.revision != revision:
            return False
        self.data[key] = Claim(owner, time.time(), self._next())
        return True

    async def release(self, key: str, owner: str) -> None:
        if key in self.data and self.data[key].owner == owner:
            del self.data[key]

    async def keys(self, prefix: str) -> set[str]:
        return {k[len(prefix) :] for k in self.data if k.startswith(prefix)}


# ---- pure decisions ----------------------------------------------------------


def static_band_size(network: ipaddress.IPv4Network) -> int:
    """Upstream's reserved low band (KEP-3070): min(max(16, size/16), 256)."""
    return min(max(16, network.num_addresses // 16), 256)


def wants_cluster_ip(spec: JSON) -> bool:
    """Whether the Service should get a virtual IP (not headless, not ExternalName)."""
    if spec.get("type") == "ExternalName":
        return False
    return spec.get("clusterIP") != "None"


def wants_node_ports(spec: JSON) -> bool:
    return spec.get("type") in NODE_PORT_TYPES


def requested_cluster_ip(spec: JSON) -> str:
    ip = spec.get("clusterIP") or ""
    if not ip:
        ips = spec.get("clusterIPs") or []
        ip = ips[0] if ips else ""
    return str(ip)


def pick_free_ip(network: ipaddress.IPv4Network, taken: set[str], rng: random.Random) -> str | None:
    """A random free address of the dynamic band; the static band when it is full."""
    first = int(network.network_address) + 1  # never the network address
    last = int(network.broadcast_address) - 1  # nor the broadcast address
    static_end = int(network.network_address) + static_band_size(network)
    for low, high in ((static_end, last), (first, min(static_end - 1, last))):
        size = high - low + 1
        if size <= 0:
            continue
        # Random probes first (cheap while the range is sparse), then a scan.
        for _ in range(32):
            candidate = str(ipaddress.IPv4Address(low + rng.randrange(size)))
            if candidate not in taken:
                return candidate
        start = rng.randrange(size)
        for i in range(size):
            candidate = str(ipaddress.IPv4Address(low + (start + i) % size))
            if candidate not in taken:
                return candidate
    return None


def pick_free_port(port_range: tuple[int, int], taken: set[str], rng: random.Random) -> int | None:
    low, high = port_range
    size = high - low + 1
    start = rng.randrange(size)
    for i in range(size):
        port = low + (start + i) % size
        if str(port) not in taken:
            return port
    return None


def _ip_invalid(name: str, ip: str, why: str) -> errors.Invalid:
    return errors.invalid(
        "Service",
        name,
        [
            errors.Cause(
                "spec.clusterIPs",
                f'Invalid value: []string{{"{ip}"}}: failed to allocate IP {ip}: {why}',
            )
        ],
    )


def _port_invalid(name: str, index: int, port: Any, why: str) -> errors.Invalid:
    return errors.invalid(
        "Service",
        name,
        [errors.Cause(f"spec.ports[{index}].nodePort", f"Invalid value: {port}: {why}")],
    )


# ---- the plugin --------------------------------------------------------------


class ServiceAllocator:
    """The admission plugin: `await admit(ctx, operation, rt, obj, old)`.

    `service_getter(ctx)` gives the function that reads a Service from the
    registry (to tell a stale claim from a live one).
    """

    def __init__(
        self,
        store: AllocationStore,
        *,
        service_cidr: str = DEFAULT_SERVICE_CIDR,
        node_port_range: tuple[int, int] = DEFAULT_NODE_PORT_RANGE,
        service_getter: Callable[[Any], ServiceGetter | None] | None = None,
        rng: random.Random | None = None,
        stale_after_s: float = STALE_AFTER_S,
    ) -> None:
        self.store = store
        self.network = ipaddress.IPv4Network(service_cidr, strict=False)
        self.node_port_range = node_port_range
        self._service_getter = service_getter or _registry_getter
        self._rng = rng or random.Random()
        self.stale_after_s = stale_after_s

    async def admit(self, ctx: Any, operation: str, rt: Any, obj: JSON, old: JSON | None) -> JSON:
        if getattr(rt, "resource", "") != "services" or getattr(rt, "group", "") != "":
            return obj
        if str(getattr(ctx, "subresource", "") or "") == "status":
            return obj
        if getattr(ctx, "dry_run", False):
            return obj
        get = self._service_getter(ctx)
        if operation == "CREATE":
            return await self.allocate(obj, get)
        if operation == "UPDATE" and old is not None:
            return await self.reallocate(old, obj, get)
        if operation == "DELETE":
            current = old if old is not None else obj
            # With finalizers the Service lives on (terminating) and keeps its IP;
            # what it held is reclaimed as stale once it is gone.
            if not (current.get("metadata") or {}).get("finalizers"):
                await self.release_all(current)
        return obj

    # -- create / update / delete

    async def allocate(self, svc: JSON, get: ServiceGetter | None) -> JSON:
        """Fill spec.clusterIP(s) and nodePorts of a new Service; roll back on failure."""
        spec = svc.setdefault("spec", {})
        owner = _owner(svc)
        held: list[str] = []
        try:
            if wants_cluster_ip(spec):
                ip = await self._allocate_ip(svc, requested_cluster_ip(spec), owner, get)
                held.append(IP_PREFIX + ip)
                spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
                spec.setdefault("ipFamilies", ["IPv4"])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
            elif spec.get("clusterIP") == "None":
                spec["clusterIPs"] = ["None"]
                spec.setdefault("ipFamilies", ["IPv4"])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
            if wants_node_ports(spec):
                held += await self._allocate_node_ports(svc, owner, get, keep=set())
        except BaseException:
            for key in held:
                await self.store.release(key, owner)
            raise
        return svc

    async def reallocate(self, old: JSON, new: JSON, get: ServiceGetter | None) -> JSON:
        """Keep the IP (immutable), claim new NodePorts, free the ones no longer used."""
        old_spec = old.get("spec") or {}
        spec = new.setdefault("spec", {})
        owner = _owner(new)
        old_ip = requested_cluster_ip(old_spec)
        new_ip = requested_cluster_ip(spec)
        held: list[str] = []
        try:
            if wants_cluster_ip(spec) and not wants_cluster_ip(old_spec):
                # e.g. ExternalName -> ClusterIP: a new virtual IP.
                ip = await self._allocate_ip(new, new_ip, owner, get)
                held.append(IP_PREFIX + ip)
                spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
            elif wants_cluster_ip(spec) and (new_ip or old_ip):
                # An update that dropped the field keeps the IP (it is immutable).
                spec["clusterIP"] = new_ip or old_ip
                spec["clusterIPs"] = [new_ip or old_ip]
            old_ports = set(_node_ports(old_spec)) if wants_node_ports(old_spec) else set()
            if wants_node_ports(spec):
                held += await self._allocate_node_ports(new, owner, get, keep=old_ports)
            else:
                for port in spec.get("ports") or []:
                    port.pop("nodePort", None)
        except BaseException:
            for key in held:
                await self.store.release(key, owner)
            raise
        # Free what the old object held and the new one does not.
        if wants_cluster_ip(old_spec) and not wants_cluster_ip(spec) and old_ip:
            await self.store.release(IP_PREFIX + old_ip, owner)
        new_ports = set(_node_ports(spec)) if wants_node_ports(spec) else set()
        for port in old_ports - new_ports:
            await self.store.release(f"{NODE_PORT_PREFIX}{port}", owner)
        return new

    async def release_all(self, svc: JSON) -> None:
        spec = svc.get("spec") or {}
        owner = _owner(svc)
        ip = requested_cluster_ip(spec)
        if ip and ip != "None":
            await self.store.release(IP_PREFIX + ip, owner)
        for port in _node_ports(spec):
            await self.store.release(f"{NODE_PORT_PREFIX}{port}", owner)

    # -- IPs

    async def _allocate_ip(
        self, svc: JSON, requested: str, owner: str, get: ServiceGetter | None
    ) -> str:
        name = str(svc.get("metadata", {}).get("name", ""))
        if requested:
            try:
                address = ipaddress.IPv4Address(requested)
            except ValueError:
                raise _ip_invalid(
                    name, requested, "must be a valid IP address, (e.g. 10.9.8.7)"
                ) from None
            if address not in self.network or address in (
                self.network.network_address,
                self.network.broadcast_address,
            ):
                raise _ip_invalid(
                    name,
                    requested,
                    f"the provided IP ({requested}) is not in the valid range. "
                    f"The range of valid IPs is {self.network}",
                )
            if not await self._claim(IP_PREFIX + requested, owner, get, "clusterIP", requested):
                raise _ip_invalid(name, requested, "provided IP is already allocated")
            return requested
        for _ in range(16):
            taken = await self.store.keys(IP_PREFIX)
            ip = pick_free_ip(self.network, taken, self._rng)
            if ip is None:
                ip = await self._reclaim_stale(IP_PREFIX, taken, owner, get, "clusterIP")
                if ip is None:
                    break
                return ip
            if await self.store.claim(IP_PREFIX + ip, owner):
                return ip
        raise errors.InternalError(
            message="failed to allocate a serviceIP: range is full", name=name, kind="services"
        )

    # -- NodePorts

    async def _allocate_node_ports(
        self, svc: JSON, owner: str, get: ServiceGetter | None, *, keep: set[int]
    ) -> list[str]:
        """Claim a nodePort for every port that needs one; the keys newly claimed."""
        name = str(svc.get("metadata", {}).get("name", ""))
        ports = svc.get("spec", {}).get("ports") or []
        low, high = self.node_port_range
        held: list[str] = []
        # The same nodePort may serve a TCP and a UDP port of one Service.
        mine: set[int] = set(keep)
        for i, port in enumerate(ports):
            requested = port.get("nodePort")
            if requested:
                if not isinstance(requested, int) or not low <= requested <= high:
                    raise _port_invalid(
                        name,
                        i,
                        requested,
                        "provided port is not in the valid range. "
                        f"The range of valid ports is {low}-{high}",
                    )
                if requested in mine:
                    continue
                key = f"{NODE_PORT_PREFIX}{requested}"
                if not await self._claim(key, owner, get, "nodePort", str(requested)):
                    raise _port_invalid(name, i, requested, "provided port is already allocated")
                held.append(key)
                mine.add(requested)
                continue
            for _ in range(16):
                taken = await self.store.keys(NODE_PORT_PREFIX)
                chosen = pick_free_port(self.node_port_range, taken, self._rng)
                if chosen is None:
                    reclaimed = await self._reclaim_stale(
                        NODE_PORT_PREFIX, taken, owner, get, "nodePort"
                    )
                    if reclaimed is None:
                        break
                    chosen = int(reclaimed)
                    port["nodePort"] = chosen
                    held.append(f"{NODE_PORT_PREFIX}{chosen}")
                    mine.add(chosen)
                    break
                if await self.store.claim(f"{NODE_PORT_PREFIX}{chosen}", owner):
                    port["nodePort"] = chosen
                    held.append(f"{NODE_PORT_PREFIX}{chosen}")
                    mine.add(chosen)
                    break
            if not port.get("nodePort"):
                for key in held:
                    await self.store.release(key, owner)
                raise errors.InternalError(
                    message="failed to allocate a nodePort: range is full",
                    name=name,
                    kind="services",
                )
        return held

    # -- claims and stale claims

    async def _claim(
        self, key: str, owner: str, get: ServiceGetter | None, what: str, value: str
    ) -> bool:
        if await self.store.claim(key, owner):
            return True
        claim = await self.store.get(key)
        if claim is None:
            return await self.store.claim(key, owner)
        if claim.owner == owner:
            # Our own claim (a retried create, or the same Service updated).
            return True
        if await self._is_stale(claim, get, what, value):
            return await self.store.take_over(key, owner, claim.revision)
        return False

    async def _is_stale(
        self, claim: Claim, get: ServiceGetter | None, what: str, value: str
    ) -> bool:
        if time.time() - claim.claimed_at < self.stale_after_s:
            return False
        if get is None:
            return False  # without the registry, nothing is provably stale
        namespace, _, name = claim.owner.partition("/")
        svc = await get(namespace, name)
        if svc is None:
            return True
        spec = svc.get("spec") or {}
        if what == "clusterIP":
            return requested_cluster_ip(spec) != value
        return value not in {str(p) for p in _node_ports(spec)}

    async def _reclaim_stale(
        self, prefix: str, taken: Iterable[str], owner: str, get: ServiceGetter | None, what: str
    ) -> str | None:
        for value in sorted(taken):
            claim = await self.store.get(prefix + value)
            if claim is None:
                if await self.store.claim(prefix + value, owner):
                    return value
                continue
            if await self._is_stale(claim, get, what, value) and await self.store.take_over(
                prefix + value, owner, claim.revision
            ):
                log.info("reclaimed stale %s %s from %s", what, value, claim.owner)
                return value
        return None


def _owner(svc: JSON) -> str:
    meta = svc.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"


def _node_ports(spec: JSON) -> list[int]:
    return [int(p["nodePort"]) for p in spec.get("ports") or [] if p.get("nodePort")]


def _registry_getter(ctx: Any) -> ServiceGetter | None:
    """Read Services through the registry the admission context gives access to."""
    registry = getattr(ctx, "registry", None)
    if registry is None:
        return None

    async def get(namespace: str, name: str) -> JSON | None:
        try:
            obj = await registry.get(lookup("", "v1", "services"), namespace, name)
        except errors.NotFound:
            return None
        return dict(obj)

    return get


def plugin(config: Any) -> ServiceAllocator:
    """The admission plugin factory (`PluginConfig` -> plugin) for `admission.PLUGINS`."""
    etcd = config.etcd
    store: AllocationStore = (
        EtcdAllocationStore(etcd) if hasattr(etcd, "transactions") else KVAllocationStore(etcd)
    )
    return ServiceAllocator(
        store,
        service_cidr=config.service_cluster_ip_range,
        node_port_range=tuple(config.node_port_range),
    )
