"""Running a trial's coroutine on an event loop, within the trial's deadline.

Each function runs ``main()`` in a fresh event loop and returns its result,
or raises :exc:`~benchmarks.framework.TrialTimeout` once ``timeout``
seconds have passed: a trial never waits without a bound.  The deadline is
set up once per trial, never per message, so it costs nothing in the
timed loops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import trio

from .framework import timed_out

T = TypeVar("T")

#: A way to run a trial's coroutine function: ``(main, timeout) -> result``.
Loop = Callable[[Callable[[], Awaitable[T]], float], T]


def on_trio(main: Callable[[], Awaitable[T]], timeout: float) -> T:
    """``main()`` under ``trio.run``."""

    async def bounded() -> T:
        with trio.move_on_after(timeout):
            return await main()
        raise timed_out(timeout)

    return trio.run(bounded)


def on_asyncio(main: Callable[[], Awaitable[T]], timeout: float) -> T:
    """``main()`` under ``asyncio.run``."""

    async def bounded() -> T:
        try:
            return await asyncio.wait_for(main(), timeout)
        except asyncio.TimeoutError:
            raise timed_out(timeout) from None

    return asyncio.run(bounded())


def on_anyio_asyncio(main: Callable[[], Awaitable[T]], timeout: float) -> T:
    """``main()`` under ``anyio.run(backend="asyncio")``: anyio code on asyncio."""

    async def bounded() -> T:
        with anyio.move_on_after(timeout):
            return await main()
        raise timed_out(timeout)

    result: T = anyio.run(bounded, backend="asyncio")
    return result
