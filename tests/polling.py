"""Polling for tests: wait until a condition holds instead of sleeping.

The one rule, shared by `eventually` (async) and `eventually_sync`:

- The check is called (sync or async: an awaitable result is awaited) until it
  passes, and what it returned is returned.
- An exception in `NOT_YET` means "not yet": the check is retried. Any other
  exception propagates at once.
- A predicate (the default) passes when its result is truthy: False, None, 0,
  "" or an empty collection mean "not yet".
- An assertion-style check (`asserts=True`) raises until it holds and returns
  None: it passes as soon as it returns. (A None result means "not yet" for a
  predicate and "done" for an assertion: only the caller can say which.)
- After `within` seconds, the next miss raises AssertionError naming `what`
  and the last miss (a falsy result, or the exception, chained).

The first retry comes after 5 ms, then the pause doubles up to 0.1 s: fast for
in-memory conditions, gentle on a real apiserver.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar, overload

import grpc

from apimachinery import errors

T = TypeVar("T")

# What a check raises while the world is still catching up: a failed assert, an
# object or key not there yet (KeyError, IndexError), a refused or reset
# connection or a timeout (OSError), an API error (404, 409, 503...), a gRPC error.
NOT_YET: tuple[type[BaseException], ...] = (
    AssertionError,
    LookupError,
    OSError,
    errors.APIError,
    grpc.aio.AioRpcError,
)

WITHIN = 60.0  # seconds: the longest default of the helpers merged here, so none waits less
FIRST_PAUSE = 0.005
MAX_PAUSE = 0.1


class _Attempts:
    """The deadline, the pause before the next attempt and the failure message."""

    def __init__(self, within: float, what: str) -> None:
        self.within, self.what = within, what
        self.deadline = time.monotonic() + within
        self.pause = FIRST_PAUSE

    def missed(self, last: object) -> float:
        """The pause before trying again; AssertionError once out of time."""
        if time.monotonic() >= self.deadline:
            cause = last if isinstance(last, BaseException) else None
            raise AssertionError(
                f"{self.what} not reached within {self.within}s (last: {last!r})"
            ) from cause
        pause, self.pause = self.pause, min(self.pause * 2, MAX_PAUSE)
        return pause


@overload
async def eventually(
    check: Callable[[], Awaitable[None] | None],
    *,
    within: float = WITHIN,
    what: str = "condition",
    asserts: Literal[True],
) -> None: ...
@overload
async def eventually(
    check: Callable[[], Awaitable[T | None]],
    *,
    within: float = WITHIN,
    what: str = "condition",
    asserts: Literal[False] = False,
) -> T: ...
@overload
async def eventually(
    check: Callable[[], T | None],
    *,
    within: float = WITHIN,
    what: str = "condition",
    asserts: Literal[False] = False,
) -> T: ...
async def eventually(
    check: Callable[[], object],
    *,
    within: float = WITHIN,
    what: str = "condition",
    asserts: bool = False,
) -> object:
    """Retry `check` until it passes (see the module docstring); its result."""
    attempts = _Attempts(within, what)
    while True:
        miss: object
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
        except NOT_YET as e:
            miss = e
        else:
            if asserts or result:
                return result
            miss = result
        await asyncio.sleep(attempts.missed(miss))


def eventually_sync(
    check: Callable[[], T | None], *, within: float = WITHIN, what: str = "condition"
) -> T:
    """`eventually` for a sync predicate, called from sync code (no event loop)."""
    attempts = _Attempts(within, what)
    while True:
        miss: object
        try:
            result = check()
        except NOT_YET as e:
            miss = e
        else:
            if result:
                return result
            miss = result
        time.sleep(attempts.missed(miss))
