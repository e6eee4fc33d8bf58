"""Fixtures shared by every test level: real etcd and apiserver processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from client.api import APIClient
from tests.processes import ApiserverProcess, EtcdProcess


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[EtcdProcess]:
    """A fresh etcd for one test (killable and restartable on the same data)."""
    proc = EtcdProcess(tmp_path / "etcd")
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def apiserver(etcd: EtcdProcess, tmp_path: Path) -> Iterator[ApiserverProcess]:
    """An apiserver process on that etcd (restartable)."""
    proc = ApiserverProcess(etcd, tmp_path)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
async def api(apiserver: ApiserverProcess) -> AsyncIterator[APIClient]:
    """A connected client of that apiserver."""
    client = APIClient(apiserver.address, timeout=10)
    await client.wait_ready()
    yield client
    await client.close()
