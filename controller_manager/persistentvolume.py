"""The PersistentVolume controller: binds claims to volumes, and provisions a
volume for a claim nothing matches, as a lab cluster's default storage does.

A Pending PersistentVolumeClaim is bound to the smallest Available
PersistentVolume of its storage class that has its access modes, enough
capacity and matches its selector: the volume's `claimRef` and the claim's
`volumeName` point at each other and both become Bound. A claim that names a
storage class (or none: kubelab's default) and finds no volume gets one
provisioned, `pvc-<claim uid>`, of exactly the requested size (kind's
local-path provisioner does the same); a claim with `storageClassName: ""`
only binds to volumes made by hand. The data itself lives in a Docker volume
the kubelet names after the claim, so a bound claim keeps its data wherever
the pod goes. A volume whose claim is gone is Released, and deleted when it
was provisioned with the Delete reclaim policy.

Keys are `pvc/<namespace>/<name>` and `pv/<name>`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from apimachinery import errors
from apimachinery.quantity import parse_quantity
from controller_manager import kube
from controller_manager.base import JSON, Context, Controller

PVCS = kube.rt("", "persistentvolumeclaims")
PVS = kube.rt("", "persistentvolumes")
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
PROVISIONER = "kubelab.io/local"
DEFAULT_CLASS = "standard"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"


def _quantity(value: Any) -> float:
    try:
        return float(parse_quantity(str(value)))
    except Exception:
        return 0.0


def requested(pvc: Mapping[str, Any]) -> float:
    return _quantity(
        (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", 0)
    )


def claim_class(pvc: Mapping[str, Any]) -> str:
    value = (pvc.get("spec") or {}).get("storageClassName")
    return DEFAULT_CLASS if value is None else str(value)


def volume_matches(pv: Mapping[str, Any], pvc: Mapping[str, Any]) -> bool:
    pv_spec = pv.get("spec") or {}
    spec = pvc.get("spec") or {}
    if str(pv_spec.get("storageClassName") or "") != claim_class(pvc):
        return False
    if not set(spec.get("accessModes") or []) <= set(pv_spec.get("accessModes") or []):
        return False
    if pv_spec.get("volumeMode", "Filesystem") != spec.get("volumeMode", "Filesystem"):
        return False
    if _quantity((pv_spec.get("capacity") or {}).get("storage", 0)) < requested(pvc):
        return False
    if spec.get("selector") is not None:
        return kube.selects(kube.label_selector(spec["selector"]), pv)
    return True


def claim_ref(pvc: Mapping[str, Any]) -> JSON:
    return {
        "kind": "PersistentVolumeClaim",
        "apiVersion": "v1",
        "namespace": kube.namespace(pvc),
        "name": kube.name(pvc),
        "uid": kube.uid(pvc),
    }


def pv_phase(pv: Mapping[str, Any]) -> str:
    return str((pv.get("status") or {}).get("phase") or "Pending")


class PersistentVolumeController(Controller):
    name = "persistentvolume-binder"
    component = "persistentvolume-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.claims = ctx.informers.informer(PVCS)
        self.volumes = ctx.informers.informer(PVS)
        self.claims.add_handlers(
            on_add=self._claim_changed,
            on_update=self._claim_updated,
            on_delete=self._claim_deleted,
        )
        self.volumes.add_handlers(on_add=self._volume_changed, on_update=self._volume_updated)

    def synced(self) -> bool:
        return self.claims.has_synced() and self.volumes.has_synced()

    def _claim_changed(self, pvc: JSON) -> None:
        self.queue.add(f"pvc/{kube.namespace(pvc)}/{kube.name(pvc)}")

    def _claim_updated(self, old: JSON, new: JSON) -> None:
        self._claim_changed(new)

    def _claim_deleted(self, pvc: JSON) -> None:
        name = (pvc.get("spec") or {}).get("volumeName")
        if name:
            self.queue.add(f"pv/{name}")

    def _volume_changed(self, pv: JSON) -> None:
        self.queue.add(f"pv/{kube.name(pv)}")
        # A new Available volume may be what a Pending claim waits for.
        if not (pv.get("spec") or {}).get("claimRef"):
            for pvc in self.claims.list():
                if not (pvc.get("spec") or {}).get("volumeName"):
                    self._claim_changed(pvc)

    def _volume_updated(self, old: JSON, new: JSON) -> None:
        self._volume_changed(new)

    async def sync(self, key: str) -> None:
        kind, _, rest = key.partition("/")
        if kind == "pvc":
            ns, _, name = rest.partition("/")
            pvc = self.claims.get(ns, name)
            if pvc is not None and not kube.deleting(pvc):
                await self.sync_claim(pvc)
        elif kind == "pv":
            pv = self.volumes.get("", rest)
            if pv is not None and not kube.deleting(pv):
                await self.sync_volume(pv)

    async def sync_claim(self, pvc: JSON) -> None:
        volume_name = (pvc.get("spec") or {}).get("volumeName")
        if volume_name:
            pv = self.volumes.get("", volume_name)
            if pv is None:
                await self._claim_status(pvc, "Lost", None)
                return
            await self.bind(pv, pvc)
            return
        candidates = [
            pv
            for pv in self.volumes.list()
            if not kube.deleting(pv)
            and volume_matches(pv, pvc)
            and (
                not (pv.get("spec") or {}).get("claimRef")
                or (
                    pv["spec"]["claimRef"].get("uid") in ("", None, kube.uid(pvc))
                    and pv["spec"]["claimRef"].get("name") == kube.name(pvc)
                    and pv["spec"]["claimRef"].get("namespace") == kube.namespace(pvc)
                )
            )
        ]
        if candidates:
            pv = min(
                candidates, key=lambda v: _quantity(v["spec"].get("capacity", {}).get("storage"))
            )
            await self.bind(pv, pvc)
            return
        if (pvc.get("spec") or {}).get("storageClassName") == "":
            self.event(
                pvc,
                "Normal",
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
            )
            return
        await self.provision(pvc)

    async def provision(self, pvc: JSON) -> None:
        spec = pvc.get("spec") or {}
        name = f"pvc-{kube.uid(pvc)}"
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        body: JSON = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}},
            "spec": {
                "capacity": {"storage": storage},
                "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": claim_class(pvc),
                "volumeMode": spec.get("volumeMode", "Filesystem"),
                "hostPath": {
                    "path": f"/var/lib/kubelab/pv/{kube.namespace(pvc)}-{kube.name(pvc)}",
                    "type": "DirectoryOrCreate",
                },
                "claimRef": claim_ref(pvc),
            },
        }
        try:
            await self.api.create(PVS, body)
        except errors.AlreadyExists:
            return
        self.event(
            pvc,
            "Normal",
            "ProvisioningSucceeded",
            f"Successfully provisioned volume {name}",
        )

    async def bind(self, pv: JSON, pvc: JSON) -> None:
        """Point the volume and the claim at each other; both Bound."""
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        if ref.get("uid") != kube.uid(pvc) or ref.get("name") != kube.name(pvc):
            new_pv = kube.deepcopy(pv)
            new_pv["spec"]["claimRef"] = claim_ref(pvc)
            new_pv["metadata"].setdefault("annotations", {})[BOUND_BY_CONTROLLER] = "yes"
            pv = await self.api.update(PVS, new_pv)
        if pv_phase(pv) != "Bound":
            new_pv = kube.deepcopy(pv)
            new_pv["status"] = {**(pv.get("status") or {}), "phase": "Bound"}
            pv = await self.api.update_status(PVS, new_pv)
        if (pvc.get("spec") or {}).get("volumeName") != kube.name(pv):
            new_pvc = kube.deepcopy(pvc)
            new_pvc["spec"]["volumeName"] = kube.name(pv)
            new_pvc["metadata"].setdefault("annotations", {})["pv.kubernetes.io/bind-completed"] = (
                "yes"
            )
            pvc = await self.api.update(PVCS, new_pvc)
        await self._claim_status(pvc, "Bound", pv)

    async def _claim_status(self, pvc: JSON, phase: str, pv: JSON | None) -> None:
        status: JSON = {"phase": phase}
        if pv is not None:
            pv_spec = pv.get("spec") or {}
            status["accessModes"] = list(pv_spec.get("accessModes") or [])
            status["capacity"] = dict(pv_spec.get("capacity") or {})
        old = pvc.get("status") or {}
        if all(old.get(k) == v for k, v in status.items()):
            return
        new = kube.deepcopy(pvc)
        new["status"] = {**old, **status}
        await self.api.update_status(PVCS, new)

    async def sync_volume(self, pv: JSON) -> None:
        ref = (pv.get("spec") or {}).get("claimRef")
        if not ref:
            if pv_phase(pv) != "Available":
                await self._volume_phase(pv, "Available")
            return
        pvc = self.claims.get(str(ref.get("namespace", "")), str(ref.get("name", "")))
        if pvc is None:
            # Confirm with a live read: the claim may be newer than the cache.
            try:
                pvc = await self.api.get(
                    PVCS, str(ref.get("name", "")), namespace=str(ref.get("namespace", ""))
                )
            except errors.NotFound:
                pvc = None
        if pvc is not None and (not ref.get("uid") or ref.get("uid") == kube.uid(pvc)):
            if pv_phase(pv) == "Pending":
                await self._volume_phase(pv, "Available")
            self.queue.add(f"pvc/{kube.namespace(pvc)}/{kube.name(pvc)}")
            return
        if pvc is None and not ref.get("uid"):
            # Pre-bound by hand to a claim that does not exist yet.
            if pv_phase(pv) == "Pending":
                await self._volume_phase(pv, "Available")
            return
        # Its claim is gone (or is another claim of the same name now).
        policy = (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy", "Retain")
        provisioned = kube.annotations_of(pv).get(PROVISIONED_BY) == PROVISIONER
        if policy == "Delete" and provisioned:
            self.log.info("deleting volume %s: its claim is gone", kube.name(pv))
            with contextlib.suppress(errors.NotFound):
                await self.api.delete(PVS, kube.name(pv))
            return
        if pv_phase(pv) != "Released":
            await self._volume_phase(pv, "Released")

    async def _volume_phase(self, pv: JSON, phase: str) -> None:
        new = kube.deepcopy(pv)
        new["status"] = {**(pv.get("status") or {}), "phase": phase}
        with contextlib.suppress(errors.NotFound):
            await self.api.update_status(PVS, new)
