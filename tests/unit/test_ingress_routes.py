"""Ingress routing: hosts, Prefix/Exact paths, longest match, default backend."""

from __future__ import annotations

from typing import Any

from ingress.routes import Backend, RouteTable, backend_addresses, is_ours


def ingress(name: str, rules: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": name},
        "spec": {"rules": rules, **spec},
    }


def path(p: str, svc: str, kind: str = "Prefix", port: int = 80) -> dict[str, Any]:
    return {
        "path": p,
        "pathType": kind,
        "backend": {"service": {"name": svc, "port": {"number": port}}},
    }


def b(svc: str, port: int = 80) -> Backend:
    return Backend("default", svc, port)


TABLE = RouteTable(
    [
        ingress(
            "a",
            [
                {"host": "shop.localhost", "http": {"paths": [path("/", "shop")]}},
                {
                    "host": "api.localhost",
                    "http": {
                        "paths": [
                            path("/v1", "api-v1"),
                            path("/v1/admin", "admin"),
                            path("/v1/exact", "exact", "Exact"),
                        ]
                    },
                },
                {"host": "*.apps.localhost", "http": {"paths": [path("/", "wild")]}},
            ],
        ),
        ingress(
            "b",
            [{"http": {"paths": [path("/any", "anyhost", "ImplementationSpecific")]}}],
            defaultBackend={"service": {"name": "fallback", "port": {"number": 8080}}},
        ),
    ]
)


def test_hosts_and_prefix_paths() -> None:
    assert TABLE.match("shop.localhost:8080", "/cart") == b("shop")
    assert TABLE.match("api.localhost", "/v1") == b("api-v1")
    assert TABLE.match("api.localhost", "/v1/users") == b("api-v1")
    assert TABLE.match("api.localhost", "/v1/admin/x") == b("admin")
    # element-wise prefix: /v1 does not match /v100
    assert TABLE.match("api.localhost", "/v100") == b("fallback", 8080)


def test_exact_beats_prefix_and_only_matches_exactly() -> None:
    assert TABLE.match("api.localhost", "/v1/exact") == b("exact")
    assert TABLE.match("api.localhost", "/v1/exact/more") == b("api-v1")


def test_wildcard_hosts_match_one_label() -> None:
    assert TABLE.match("foo.apps.localhost", "/") == b("wild")
    assert TABLE.match("a.b.apps.localhost", "/x") == b("fallback", 8080)


def test_rules_without_host_and_default_backend() -> None:
    assert TABLE.match("whatever", "/any/thing") == b("anyhost")
    assert TABLE.match("whatever", "/") == b("fallback", 8080)
    assert RouteTable([]).match("x", "/") is None


def test_ingress_class_selection() -> None:
    mine = {"spec": {"ingressClassName": "kubelab"}}
    other = {"spec": {"ingressClassName": "nginx"}}
    unset: dict[str, Any] = {"spec": {}}
    assert is_ours(mine, False) and not is_ours(other, True)
    assert is_ours(unset, True) and not is_ours(unset, False)


def test_backend_addresses_by_port_number_or_name() -> None:
    svc = {"spec": {"ports": [{"name": "web", "port": 80, "targetPort": 8080}]}}
    eps = {
        "subsets": [
            {
                "addresses": [{"ip": "10.112.0.3"}, {"ip": "10.112.0.2"}],
                "ports": [{"name": "web", "port": 8080}],
            }
        ]
    }
    expected = ["10.112.0.2:8080", "10.112.0.3:8080"]
    assert backend_addresses(svc, eps, Backend("default", "s", 80)) == expected
    assert backend_addresses(svc, eps, Backend("default", "s", 0, "web")) == expected
    assert backend_addresses(svc, eps, Backend("default", "s", 81)) == []
    assert backend_addresses(None, eps, Backend("default", "s", 80)) == []
