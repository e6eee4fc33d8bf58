"""Quantities parse and print in upstream's canonical form."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apimachinery.quantity import (
    QuantityError,
    canonical,
    compare,
    int_value,
    milli_value,
    parse_quantity,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500m", "500m"),
        ("0.5", "500m"),
        ("1000m", "1"),
        ("1", "1"),
        ("1.5", "1500m"),
        ("128Mi", "128Mi"),
        ("1024Mi", "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("0.5Gi", "512Mi"),
        ("1000", "1k"),
        ("1500", "1500"),
        ("1e3", "1e3"),
        ("1.5e3", "1500"),
        ("100M", "100M"),
        ("0", "0"),
        ("0.0001", "100u"),
        ("1n", "1n"),
        ("0.1n", "1n"),
        ("-500m", "-500m"),
        ("512", "512"),
        ("1Ki", "1Ki"),
        ("2048Ki", "2Mi"),
        (1, "1"),
        (0.25, "250m"),
    ],
)
def test_canonical(text: str | float, expected: str) -> None:
    assert canonical(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "12x", "1KB", "1K", "1.2.3", "Mi", "--1", "1 Mi"])
def test_invalid(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_regex_message_is_upstreams() -> None:
    with pytest.raises(QuantityError) as e:
        parse_quantity("12x")
    assert str(e.value) == (
        "quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


def test_values_and_compare() -> None:
    assert parse_quantity("128Mi") == Decimal(134217728)
    assert parse_quantity("250m") == Decimal("0.25")
    assert milli_value("1") == 1000
    assert milli_value("250m") == 250
    assert int_value("100m") == 1
    assert int_value("1G") == 10**9
    assert compare("1", "1000m") == 0
    assert compare("1Gi", "1G") == 1
    assert compare("500m", 1) == -1
