"""A real etcd + apiserver with its HTTPS REST API, shared by a test module, and
small helpers to call it (urllib with the cluster CA and the admin token) or to
drive the real kubectl with the admin kubeconfig the apiserver wrote."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.processes import ApiserverProcess, EtcdProcess, need

KUBECTL = os.environ.get("KUBECTL", "/usr/bin/kubectl")


@dataclass
class Rest:
    """The REST endpoint of a running apiserver."""

    proc: ApiserverProcess
    base: str
    kubeconfig: Path
    token: str
    ca_file: Path

    def context(self, *, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        if cert is not None:
            ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        return ctx

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        token: str | None = "",
        raw: bytes | None = None,
        cert: tuple[Path, Path] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, decoded JSON body or text, headers)."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if token is not None:
            req.add_header("Authorization", f"Bearer {token or self.token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, context=self.context(cert=cert), timeout=30) as r:
                status, payload, hdrs = r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            status, payload, hdrs = e.code, e.read(), dict(e.headers)
        try:
            return status, json.loads(payload), hdrs
        except ValueError:
            return status, payload.decode(errors="replace"), hdrs


def _wait_rest(rest: Rest, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            status, _, _ = rest.call("GET", "/api", token="")
            if status == 200:
                return
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise TimeoutError(f"the REST API did not answer within {timeout}s: {last}")


@pytest.fixture(scope="module")
def rest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rest]:
    work = tmp_path_factory.mktemp("rest")
    etcd = EtcdProcess(work / "etcd")
    etcd.start()
    proc = ApiserverProcess(etcd, work)
    try:
        proc.start()
        kubeconfig = proc.cert_dir / "admin.kubeconfig"
        token = ""
        for line in (proc.cert_dir / "tokens.csv").read_text().splitlines():
            token = line.split(",")[0]
            break
        r = Rest(
            proc=proc,
            base=f"https://127.0.0.1:{proc.secure_port}",
            kubeconfig=kubeconfig,
            token=token,
            ca_file=proc.cert_dir / "ca.crt",
        )
        _wait_rest(r)
        yield r
    finally:
        proc.stop()
        etcd.stop()


def kubectl_binary() -> str:
    if not (Path(KUBECTL).exists() or shutil.which(KUBECTL)):
        need("kubectl", "install kubectl 1.32 (/usr/bin/kubectl)")
    return KUBECTL


def kubectl(
    rest: Rest,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
    binary: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run the real kubectl against the apiserver (admin kubeconfig)."""
    full_env = {**os.environ, "KUBECONFIG": str(rest.kubeconfig), **(env or {})}
    full_env.pop("KUBECTL_EXTERNAL_DIFF", None)
    proc = subprocess.run(
        [binary or kubectl_binary(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc
