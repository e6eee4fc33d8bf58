"""The container runtime the kubelet drives: a small Protocol, and Docker behind it.

The kubelet never keeps the truth about containers in memory: `observe_pod`
and `list_pods` rebuild it from the labels of the Docker containers
(`io.kubelab.*`, see kubelet.pods). The Docker SDK is synchronous; every call
runs in a dedicated thread pool so the event loop stays responsive.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import tarfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import docker
import docker.errors

from kubelet import pods as podlib

JSON = dict[str, Any]
T = TypeVar("T")
log = logging.getLogger("kubelet.runtime")


class RuntimeError_(Exception):
    """A runtime call failed; the message says what, in words."""


class ImageMissing(RuntimeError_):
    pass


@dataclass(frozen=True)
class PodContainerRef:
    """A labelled container, as listed (no inspect): for orphan clean-up."""

    id: str
    pod_uid: str
    namespace: str
    name: str
    running: bool
    grace: int


@dataclass(frozen=True)
class ImageInfo:
    id: str
    user: str


class ContainerRuntime(Protocol):
    async def observe_pod(self, uid: str) -> podlib.ObservedPod: ...
    async def list_pods(self) -> list[PodContainerRef]: ...
    async def image(self, image: str) -> ImageInfo | None: ...
    async def pull(self, image: str) -> ImageInfo: ...
    async def create(self, config: JSON) -> str: ...
    async def start(self, container_id: str) -> None: ...
    async def stop(self, container_id: str, grace_s: int) -> None: ...
    async def remove(self, container_id: str) -> None: ...
    async def ensure_volume(self, name: str, labels: Mapping[str, str]) -> None: ...
    async def remove_volume(self, name: str) -> None: ...
    async def put_files(self, container_id: str, path: str, files: Mapping[str, bytes]) -> None: ...
    async def exec(
        self, container_id: str, cmd: list[str], limit_s: float
    ) -> tuple[int, bytes]: ...


def _observed(attrs: Mapping[str, Any], network: str) -> podlib.ObservedContainer:
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    state = attrs.get("State") or {}
    status = str(state.get("Status") or "")
    if status in ("running", "paused", "restarting"):
        simple = "running"
    elif status in ("exited", "dead"):
        simple = "exited"
    else:
        simple = "created"
    ip = ""
    nets = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    if network in nets:
        ip = str(nets[network].get("IPAddress") or "")
    elif nets:
        ip = str(next(iter(nets.values())).get("IPAddress") or "")
    try:
        attempt = int(labels.get(podlib.LABEL_ATTEMPT, "0"))
        sandbox_attempt = int(labels.get(podlib.LABEL_SANDBOX_ATTEMPT, "0"))
    except ValueError:
        attempt = sandbox_attempt = 0
    return podlib.ObservedContainer(
        id=str(attrs.get("Id", "")),
        pod_uid=str(labels.get(podlib.LABEL_UID, "")),
        kind=str(labels.get(podlib.LABEL_KIND, podlib.APP)),
        name=""
        if labels.get(podlib.LABEL_KIND) == podlib.SANDBOX
        else str(labels.get(podlib.LABEL_CONTAINER, "")),
        attempt=attempt,
        sandbox_attempt=sandbox_attempt,
        state=simple,
        exit_code=int(state.get("ExitCode") or 0),
        oom_killed=bool(state.get("OOMKilled")),
        started_at=str(state.get("StartedAt") or ""),
        finished_at=str(state.get("FinishedAt") or "") if simple == "exited" else "",
        image=str((attrs.get("Config") or {}).get("Image") or ""),
        image_id=f"docker://{attrs.get('Image', '')}",
        spec_hash=str(labels.get(podlib.LABEL_HASH, "")),
        ip=ip,
        error=str(state.get("Error") or ""),
        pod_namespace=str(labels.get(podlib.LABEL_NAMESPACE, "")),
        pod_name=str(labels.get(podlib.LABEL_POD, "")),
    )


class DockerRuntime:
    """ContainerRuntime on the Docker Engine (the host's socket, or DOCKER_HOST)."""

    def __init__(self, *, node_name: str, network: str, workers: int = 16) -> None:
        self.node_name = node_name
        self.network = network
        self.client = docker.from_env(timeout=120, max_pool_size=workers)
        self.api = self.client.api
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="docker")

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    # --- observing ----------------------------------------------------------------

    def _observe_pod(self, uid: str) -> podlib.ObservedPod:
        found = self.api.containers(
            all=True,
            filters={
                "label": [f"{podlib.LABEL_NODE}={self.node_name}", f"{podlib.LABEL_UID}={uid}"]
            },
        )
        out = podlib.ObservedPod(uid=uid)
        for c in found:
            try:
                attrs = self.api.inspect_container(c["Id"])
            except docker.errors.NotFound:
                continue
            out.containers.append(_observed(attrs, self.network))
        return out

    async def observe_pod(self, uid: str) -> podlib.ObservedPod:
        return await self._run(self._observe_pod, uid)

    def _list_pods(self) -> list[PodContainerRef]:
        found = self.api.containers(
            all=True, filters={"label": [f"{podlib.LABEL_NODE}={self.node_name}"]}
        )
        out = []
        for c in found:
            labels = c.get("Labels") or {}
            try:
                grace = int(labels.get(podlib.LABEL_GRACE, "30"))
            except ValueError:
                grace = 30
            out.append(
                PodContainerRef(
                    id=c["Id"],
                    pod_uid=labels.get(podlib.LABEL_UID, ""),
                    namespace=labels.get(podlib.LABEL_NAMESPACE, ""),
                    name=labels.get(podlib.LABEL_POD, ""),
                    running=c.get("State") == "running",
                    grace=grace,
                )
            )
        return out

    async def list_pods(self) -> list[PodContainerRef]:
        return await self._run(self._list_pods)

    # --- images -------------------------------------------------------------------

    def _image(self, image: str) -> ImageInfo | None:
        try:
            attrs = self.api.inspect_image(image)
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.NotFound:
            return None
        return ImageInfo(
            id=str(attrs.get("Id", "")), user=str((attrs.get("Config") or {}).get("User") or "")
        )

    async def image(self, image: str) -> ImageInfo | None:
        return await self._run(self._image, image)

    def _pull(self, image: str) -> ImageInfo:
        last = image.rsplit("/", maxsplit=1)[-1]
        repo, _, tag = image.rpartition(":") if ":" in last else (image, "", "latest")
        try:
            self.api.pull(repo, tag=tag or "latest")
        except docker.errors.APIError as e:
            raise RuntimeError_(str(e.explanation or e)) from None
        info = self._image(image)
        if info is None:
            raise RuntimeError_(f"image {image} not present after pulling it")
        return info

    async def pull(self, image: str) -> ImageInfo:
        return await self._run(self._pull, image)

    # --- containers ---------------------------------------------------------------

    def _create(self, config: JSON) -> str:
        cfg = dict(config)
        name = cfg.pop("name")
        image = cfg.pop("image")
        network = cfg.pop("network", None)
        host_kwargs = {}
        for key in (
            "network_mode",
            "mounts",
            "mem_limit",
            "nano_cpus",
            "cpu_shares",
            "cap_add",
            "cap_drop",
            "privileged",
            "read_only",
            "security_opt",
            "group_add",
            "dns",
            "dns_search",
            "dns_opt",
        ):
            if key in cfg:
                host_kwargs[key] = cfg.pop(key)
        if network:
            host_kwargs["network_mode"] = network
        mounts = host_kwargs.pop("mounts", [])
        binds = []
        for m in [m for m in mounts if m.get("SubPath")]:
            # subPath: bind `<volume's directory on the Docker host>/<subPath>` (the
            # daemon resolves the path on its host, also for a kubelet in a container;
            # a missing directory is created, as upstream creates subPaths).
            mountpoint = self.api.inspect_volume(m["Source"])["Mountpoint"]
            mode = "ro" if m.get("ReadOnly") else "rw"
            binds.append(f"{mountpoint}/{m['SubPath']}:{m['Target']}:{mode}")
        host_config = self.api.create_host_config(
            mounts=[
                docker.types.Mount(
                    target=m["Target"],
                    source=m.get("Source"),
                    type=m.get("Type", "volume"),
                    read_only=bool(m.get("ReadOnly")),
                )
                for m in mounts
                if not m.get("SubPath")
            ],
            binds=binds or None,
            init=False,
            **host_kwargs,
        )
        kwargs: JSON = {}
        for key in (
            "entrypoint",
            "command",
            "environment",
            "working_dir",
            "user",
            "labels",
            "hostname",
            "domainname",
            "tty",
            "stdin_open",
            "stop_signal",
        ):
            if key in cfg:
                kwargs[key] = cfg.pop(key)
        if kwargs.get("command") == [] and "entrypoint" in kwargs:
            kwargs.pop("command")
        if not kwargs.get("domainname"):
            kwargs.pop("domainname", None)
        if kwargs.get("stdin_open"):
            kwargs["detach"] = True
        networking = None
        if network:
            networking = self.api.create_networking_config(
                {network: self.api.create_endpoint_config()}
            )
        try:
            created = self.api.create_container(
                image, name=name, host_config=host_config, networking_config=networking, **kwargs
            )
        except docker.errors.APIError as e:
            if e.status_code == 409:
                # A leftover with the same name (a create that failed half-way): replace it.
                self.api.remove_container(name, force=True)
                created = self.api.create_container(
                    image,
                    name=name,
                    host_config=host_config,
                    networking_config=networking,
                    **kwargs,
                )
            else:
                raise RuntimeError_(str(e.explanation or e)) from None
        return str(created["Id"])

    async def create(self, config: JSON) -> str:
        return await self._run(self._create, config)

    def _start(self, container_id: str) -> None:
        try:
            self.api.start(container_id)
        except docker.errors.APIError as e:
            raise RuntimeError_(str(e.explanation or e)) from None

    async def start(self, container_id: str) -> None:
        await self._run(self._start, container_id)

    def _stop(self, container_id: str, grace_s: int) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.api.stop(container_id, timeout=max(0, grace_s))

    async def stop(self, container_id: str, grace_s: int) -> None:
        await self._run(self._stop, container_id, grace_s)

    def _remove(self, container_id: str) -> None:
        try:
            self.api.remove_container(container_id, force=True, v=False)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as e:
            if e.status_code != 409:  # removal already in progress
                raise RuntimeError_(str(e.explanation or e)) from None

    async def remove(self, container_id: str) -> None:
        await self._run(self._remove, container_id)

    def inspect(self, container_id: str) -> JSON:
        return dict(self.api.inspect_container(container_id))

    # --- volumes and files --------------------------------------------------------

    def _ensure_volume(self, name: str, labels: Mapping[str, str]) -> None:
        try:
            self.api.inspect_volume(name)
        except docker.errors.NotFound:
            self.api.create_volume(name, labels=dict(labels))

    async def ensure_volume(self, name: str, labels: Mapping[str, str]) -> None:
        await self._run(self._ensure_volume, name, labels)

    def _remove_volume(self, name: str) -> None:
        try:
            self.api.remove_volume(name, force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as e:
            log.debug("could not remove volume %s: %s", name, e)

    async def remove_volume(self, name: str) -> None:
        await self._run(self._remove_volume, name)

    def list_volumes(self, label: str) -> list[str]:
        vols = self.api.volumes(filters={"label": label}).get("Volumes") or []
        return [str(v["Name"]) for v in vols]

    def _put_files(self, container_id: str, path: str, files: Mapping[str, bytes]) -> None:
        buf = io.BytesIO()
        now = time.time()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            dirs: set[str] = set()
            for rel, data in sorted(files.items()):
                parts = rel.strip("/").split("/")
                for i in range(1, len(parts)):
                    d = "/".join(parts[:i])
                    if d not in dirs:
                        dirs.add(d)
                        info = tarfile.TarInfo(d)
                        info.type = tarfile.DIRTYPE
                        info.mode = 0o755
                        info.mtime = int(now)
                        tar.addfile(info)
                info = tarfile.TarInfo("/".join(parts))
                info.size = len(data)
                info.mode = 0o644
                info.mtime = int(now)
                tar.addfile(info, io.BytesIO(data))
        self.api.put_archive(container_id, path, buf.getvalue())

    async def put_files(self, container_id: str, path: str, files: Mapping[str, bytes]) -> None:
        await self._run(self._put_files, container_id, path, files)

    # --- exec ---------------------------------------------------------------------

    def _exec(self, container_id: str, cmd: list[str]) -> tuple[int, bytes]:
        ex = self.api.exec_create(container_id, cmd, stdout=True, stderr=True)
        out = self.api.exec_start(ex["Id"])
        code = self.api.exec_inspect(ex["Id"]).get("ExitCode")
        return int(code if code is not None else -1), bytes(out or b"")

    async def exec(self, container_id: str, cmd: list[str], limit_s: float) -> tuple[int, bytes]:
        return await asyncio.wait_for(self._run(self._exec, container_id, cmd), limit_s)
