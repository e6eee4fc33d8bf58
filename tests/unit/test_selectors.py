"""Label and field selectors behave as upstream's (what `kubectl get -l/--field-selector` sees)."""

from __future__ import annotations

import pytest

from apimachinery import errors, scheme
from apimachinery.selectors import (
    label_selector_from_dict,
    matches,
    object_fields,
    parse_field_selector,
    parse_label_selector,
    selector_from_set,
)

PODS = scheme.lookup("", "v1", "pods")
NODES = scheme.lookup("", "v1", "nodes")
SECRETS = scheme.lookup("", "v1", "secrets")
DEPLOYMENTS = scheme.lookup("apps", "v1", "deployments")

WEB = {"app": "web", "tier": "front", "version": "3"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("missing!=x", True),
        ("app in (web,db)", True),
        ("app in (db)", False),
        ("app notin (db, cache)", True),
        ("missing notin (x)", True),
        ("app", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("app=web,tier=front", True),
        ("app=web,tier=back", False),
        ("version gt 2", True),
        ("version lt 2", False),
        ("app = web , tier != back", True),
        ("app=", False),
        ("missing=", False),
        ("app in ()", False),
    ],
)
def test_label_selector_matches(text: str, expected: bool) -> None:
    assert parse_label_selector(text).matches(WEB) is expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("app in web", "expected: '('"),
        ("app in (web", "expected: ',', ')' or identifier"),
        ("app web", "expected: in, notin, =, ==, !=, gt, lt"),
        ("app=web,", "identifier"),
        ("a b=c", "expected"),
        ("-bad=x", 'key: Invalid value: "-bad"'),
        ("app=-x", 'values[0][app]: Invalid value: "-x"'),
        ("a=" + "x" * 64, "must be no more than 63 characters"),
        ("version gt two", "must be an integer"),
        ("!a=b", "expected"),
    ],
)
def test_label_selector_errors_are_400(text: str, fragment: str) -> None:
    with pytest.raises(errors.BadRequest) as e:
        parse_label_selector(text)
    assert fragment in e.value.message
    assert e.value.message.startswith("unable to parse requirement")


def test_label_selector_string_form_round_trips() -> None:
    sel = parse_label_selector("app in (web,db),!legacy,tier!=back")
    assert parse_label_selector(str(sel)) == sel


def test_label_selector_from_dict() -> None:
    sel = label_selector_from_dict(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "version", "operator": "Exists"},
                {"key": "env", "operator": "NotIn", "values": ["prod"]},
            ],
        }
    )
    assert sel.matches(WEB)
    assert not sel.matches({**WEB, "legacy": "1"})
    assert not sel.matches({"app": "web", "tier": "front"})


def test_nil_selector_selects_nothing_and_empty_selects_everything() -> None:
    assert not label_selector_from_dict(None).matches(WEB)
    assert label_selector_from_dict({}).matches(WEB)
    assert label_selector_from_dict({}).empty()
    assert selector_from_set({}).matches({})
    assert selector_from_set({"app": "web"}).matches(WEB)
    assert not selector_from_set({"app": "db"}).matches(WEB)


def test_bad_expression_operator_is_400() -> None:
    with pytest.raises(errors.BadRequest, match='"Like" is not a valid label selector operator'):
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "Like"}]})


POD = {
    "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}},
    "spec": {"nodeName": "worker-1", "restartPolicy": "Always"},
    "status": {"phase": "Running", "podIP": "10.112.0.5"},
}


def test_pod_field_selectors() -> None:
    fields = object_fields(PODS, POD)
    assert fields["spec.nodeName"] == "worker-1"
    assert fields["metadata.namespace"] == "default"
    assert parse_field_selector(PODS, "status.phase=Running").matches(fields)
    assert parse_field_selector(PODS, "spec.nodeName==worker-1,metadata.name=web-1").matches(fields)
    assert not parse_field_selector(PODS, "status.phase!=Running").matches(fields)
    unscheduled = object_fields(PODS, {"metadata": {"name": "p"}, "spec": {}})
    assert parse_field_selector(PODS, "spec.nodeName=").matches(unscheduled)
    assert parse_field_selector(PODS, "spec.nodeName!=").matches(fields)


def test_field_selector_supported_fields_per_kind() -> None:
    parse_field_selector(NODES, "spec.unschedulable=false")
    parse_field_selector(SECRETS, "type=kubernetes.io/tls")
    parse_field_selector(DEPLOYMENTS, "metadata.name=web")
    node = {"metadata": {"name": "n"}, "spec": {}}
    assert parse_field_selector(NODES, "spec.unschedulable=false").matches(
        object_fields(NODES, node)
    )


@pytest.mark.parametrize(
    ("rt", "text", "message"),
    [
        (PODS, "spec.foo=bar", "field label not supported: spec.foo"),
        (DEPLOYMENTS, "spec.replicas=1", "field label not supported: spec.replicas"),
        (PODS, "status.phase", "invalid selector: 'status.phase'; can't understand 'status.phase'"),
    ],
)
def test_field_selector_errors(rt: scheme.ResourceType, text: str, message: str) -> None:
    with pytest.raises(errors.BadRequest) as e:
        parse_field_selector(rt, text)
    assert e.value.message == message


def test_field_selector_escaping() -> None:
    sel = parse_field_selector(PODS, r"metadata.name=a\,b")
    assert sel.matches({"metadata.name": "a,b"})


def test_matches_combines_both() -> None:
    labels = parse_label_selector("app=web")
    fields = parse_field_selector(PODS, "status.phase=Running")
    assert matches(PODS, POD, labels=labels, fields=fields)
    assert not matches(PODS, POD, labels=parse_label_selector("app=db"))
