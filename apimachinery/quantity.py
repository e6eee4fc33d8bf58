"""Resource quantities (`500m`, `128Mi`, `1e3`), parsed and written as upstream does.

Kubernetes stores every quantity in a canonical form that keeps the family of
suffix the user wrote (binary `Ki`/`Mi`..., decimal `m`/`k`/`M`..., or an
exponent `e3`) but picks the largest unit that keeps the number whole:
`0.5` -> `500m`, `1000m` -> `1`, `1024Mi` -> `1Gi`, `1.5Gi` -> `1536Mi`.
Precision below one nano unit is rounded up, as upstream does. The scheduler,
the kubelet and quota all compare quantities through `parse_quantity`.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_UP, Decimal, InvalidOperation, localcontext
from functools import lru_cache

from apimachinery import errors

REGEX_MESSAGE = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)

_SHAPE = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
_EXPONENT = re.compile(r"^[eE][-+]?[0-9]+$")

BINARY = "BinarySI"
DECIMAL = "DecimalSI"
EXPONENT = "DecimalExponent"

_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15}
_DECIMAL_SUFFIXES["E"] = 18
_DECIMAL_BY_EXP = {v: k for k, v in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXP = {v: k for k, v in _BINARY_SUFFIXES.items()}
_NANO = Decimal("1e-9")


class QuantityError(ValueError):
    """A string that is not a quantity; the message is upstream's."""


@lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[Decimal, str]:
    text = text.strip()
    m = _SHAPE.match(text)
    if not m or not _NUMBER.match(m.group(1)):
        raise QuantityError(REGEX_MESSAGE)
    number, suffix = m.group(1), m.group(2)
    with localcontext() as ctx:
        ctx.prec = 80
        try:
            value = Decimal(number)
        except InvalidOperation:
            raise QuantityError(REGEX_MESSAGE) from None
        if suffix in _BINARY_SUFFIXES:
            return value * (Decimal(2) ** _BINARY_SUFFIXES[suffix]), BINARY
        if suffix in _DECIMAL_SUFFIXES:
            return value.scaleb(_DECIMAL_SUFFIXES[suffix]), DECIMAL
        if _EXPONENT.match(suffix):
            exp = int(suffix[1:])
            if abs(exp) > 100:
                raise QuantityError("quantity exponent too large")
            return value.scaleb(exp), EXPONENT
    raise QuantityError("unable to parse quantity's suffix")


def parse_quantity(value: str | int | float) -> Decimal:
    """The exact value of a quantity (`"128Mi"` -> 134217728); QuantityError if invalid.

    Numbers are accepted as YAML gives them (`cpu: 1`, `cpu: 0.5`).
    """
    if isinstance(value, bool):
        raise QuantityError(REGEX_MESSAGE)
    if isinstance(value, int | float):
        value = repr(value) if isinstance(value, float) else str(value)
    return _parsed(value)


@lru_cache(maxsize=4096)
def _parsed(text: str) -> Decimal:
    return _round_nano(_parse(text)[0])


def is_valid(value: str | int | float) -> bool:
    try:
        parse_quantity(value)
    except QuantityError:
        return False
    return True


def _round_nano(value: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 80
        return value.quantize(_NANO, rounding=ROUND_UP) if value != value.to_integral() else value


def format_quantity(value: Decimal, fmt: str = DECIMAL) -> str:
    """`value` written in upstream's canonical form for the format family `fmt`."""
    with localcontext() as ctx:
        ctx.prec = 80
        value = _round_nano(value)
        if value == 0:
            return "0"
        sign = "-" if value < 0 else ""
        mag = -value if value < 0 else value
        if fmt == BINARY and mag >= 1024 and mag == mag.to_integral():
            mantissa = int(mag)
            exp = 0
            while exp < 60 and mantissa % 1024 == 0:
                mantissa //= 1024
                exp += 10
            return f"{sign}{mantissa}{_BINARY_BY_EXP.get(exp, '')}"
        nanos = int(mag.scaleb(9))
        exp = -9
        while exp < 18 and nanos % 1000 == 0:
            nanos //= 1000
            exp += 3
        if fmt == EXPONENT:
            return f"{sign}{nanos}" + (f"e{exp}" if exp else "")
        return f"{sign}{nanos}{_DECIMAL_BY_EXP[exp]}"


def canonical(value: str | int | float) -> str:
    """The canonical string upstream stores for a quantity (`"0.5"` -> `"500m"`)."""
    if isinstance(value, bool):
        raise QuantityError(REGEX_MESSAGE)
    return _canonical(repr(value) if isinstance(value, float) else str(value))


@lru_cache(maxsize=4096)
def _canonical(text: str) -> str:
    amount, fmt = _parse(text)
    return format_quantity(amount, fmt)


def compare(a: str | int | float, b: str | int | float) -> int:
    """-1, 0 or 1 as `a` is less than, equal to or greater than `b`."""
    x, y = parse_quantity(a), parse_quantity(b)
    return (x > y) - (x < y)


def milli_value(value: str | int | float) -> int:
    """The value in thousandths, rounded up (`"250m"` -> 250, `"1"` -> 1000)."""
    return int(parse_quantity(value).scaleb(3).to_integral_value(rounding=ROUND_CEILING))


def int_value(value: str | int | float) -> int:
    """The value rounded up to an integer (`"128Mi"` -> 134217728, `"100m"` -> 1)."""
    return int(parse_quantity(value).to_integral_value(rounding=ROUND_CEILING))


def must_parse(value: str | int | float) -> Decimal:
    """parse_quantity that answers 400 with upstream's message (for API input)."""
    try:
        return parse_quantity(value)
    except QuantityError as e:
        raise errors.BadRequest(message=str(e)) from None
