"""The polling rule of tests/polling.py, on in-memory checks."""

from __future__ import annotations

import pytest

from apimachinery import errors
from tests.polling import eventually, eventually_sync


class Script:
    """A check handing out results in order, raising those that are exceptions."""

    def __init__(self, *results: object) -> None:
        self.results = list(results)

    def __call__(self) -> object:
        result = self.results.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result


async def test_a_predicate_passes_on_a_truthy_result_which_is_returned() -> None:
    misses: list[object] = [None, False, 0, "", [], KeyError("k"), errors.NotFound("x"), OSError()]
    check = Script(*misses, {"ok": 1})
    assert await eventually(check) == {"ok": 1}

    async def later() -> str | None:
        return "x"

    assert await eventually(later) == "x"


async def test_an_assertion_passes_once_it_returns() -> None:
    script = Script(AssertionError("not yet"), AssertionError("not yet"), None)

    async def check() -> None:
        script()

    await eventually(check, asserts=True)
    assert script.results == []


async def test_other_exceptions_propagate_at_once() -> None:
    with pytest.raises(RuntimeError, match="a bug"):
        await eventually(Script(RuntimeError("a bug"), True))


async def test_out_of_time_names_what_and_the_last_miss() -> None:
    def never() -> None:
        raise errors.NotFound('pods "p" not found')

    with pytest.raises(AssertionError, match=r'pod p not reached within 0.05s .*"p" not found'):
        await eventually(never, within=0.05, what="pod p")
    with pytest.raises(AssertionError, match=r"it not reached within 0.05s \(last: \[\]\)"):
        await eventually(list, within=0.05, what="it")


def test_the_sync_variant_shares_the_rule() -> None:
    assert eventually_sync(Script(IndexError(), "", 7)) == 7
    with pytest.raises(AssertionError, match="x not reached"):
        eventually_sync(lambda: False, within=0.05, what="x")
