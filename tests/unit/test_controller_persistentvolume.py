"""PersistentVolume controller: binding and provisioning against fakes."""

from __future__ import annotations

from typing import Any

from controller_manager.persistentvolume import PVCS, PVS, PersistentVolumeController
from tests.unit.cm_fakes import FakeCluster


def claim(name: str = "data", size: str = "1Gi", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
            **spec,
        },
        "status": {"phase": "Pending"},
    }


def volume(name: str, size: str, cls: str = "") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
            "storageClassName": cls,
            "hostPath": {"path": "/tmp/x"},
        },
        "status": {"phase": "Available"},
    }


async def test_claim_binds_to_the_smallest_volume_that_fits() -> None:
    c = FakeCluster()
    c.add(PVS, volume("small", "500Mi"))
    c.add(PVS, volume("big", "10Gi"))
    c.add(PVS, volume("fits", "2Gi"))
    c.add(PVCS, claim(storageClassName=""))
    ctl = PersistentVolumeController(c.context())
    await ctl.sync("pvc/default/data")
    pv = c.get_obj(PVS, "fits", "")
    pvc = c.get_obj(PVCS, "data")
    assert pv is not None and pvc is not None
    assert pv["spec"]["claimRef"]["uid"] == pvc["metadata"]["uid"]
    assert pv["status"]["phase"] == "Bound"
    assert pvc["spec"]["volumeName"] == "fits"
    assert pvc["status"] == {
        "phase": "Bound",
        "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
        "capacity": {"storage": "2Gi"},
    }


async def test_claim_without_a_volume_gets_one_provisioned_then_bound() -> None:
    c = FakeCluster()
    c.add(PVCS, claim())
    ctl = PersistentVolumeController(c.context())
    await ctl.sync("pvc/default/data")
    [(_, name)] = list(c.objects(PVS))
    assert name == "pvc-uid-data"
    pv = c.get_obj(PVS, name, "")
    assert pv is not None
    assert pv["spec"]["capacity"] == {"storage": "1Gi"}
    assert pv["spec"]["storageClassName"] == "standard"
    assert "ProvisioningSucceeded" in c.recorder.reasons()
    await ctl.sync("pvc/default/data")
    pvc = c.get_obj(PVCS, "data")
    assert pvc is not None and pvc["status"]["phase"] == "Bound"

    # the claim goes: the provisioned volume goes too
    del c.objects(PVCS)[("default", "data")]
    await ctl.sync(f"pv/{name}")
    assert c.get_obj(PVS, name, "") is None


async def test_static_only_claim_waits_and_retained_volume_is_released() -> None:
    c = FakeCluster()
    c.add(PVCS, claim(storageClassName=""))
    ctl = PersistentVolumeController(c.context())
    await ctl.sync("pvc/default/data")
    assert c.objects(PVS) == {}
    assert "FailedBinding" in c.recorder.reasons()

    c.add(PVS, volume("manual", "1Gi"))
    await ctl.sync("pvc/default/data")
    del c.objects(PVCS)[("default", "data")]
    await ctl.sync("pv/manual")
    pv = c.get_obj(PVS, "manual", "")
    assert pv is not None and pv["status"]["phase"] == "Released"
