"""The kubelet's command-line flags as kubelab.node and compose pass them."""

from __future__ import annotations

import argparse

from kubelet.__main__ import _pairs, _parse_taint, add_args


def test_control_plane_taint_and_labels() -> None:
    assert _parse_taint("node-role.kubernetes.io/control-plane=:NoSchedule") == {
        "key": "node-role.kubernetes.io/control-plane",
        "effect": "NoSchedule",
    }
    assert _parse_taint("dedicated=gpu:NoExecute") == {
        "key": "dedicated",
        "value": "gpu",
        "effect": "NoExecute",
    }
    assert _pairs("node-role.kubernetes.io/control-plane=,disk=ssd") == {
        "node-role.kubernetes.io/control-plane": "",
        "disk": "ssd",
    }


def test_node_name_flag_is_added_once() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--node-name", default="")
    add_args(parser)  # must not clash with a --node-name the common flags may define
    args = parser.parse_args(["--node-name", "w1", "--cpu", "2", "--memory", "4Gi"])
    assert (args.node_name, args.cpu, args.memory) == ("w1", "2", "4Gi")
