"""The event loop under the caller: trio natively, or anything through anyio.

The engine needs only a few things from an event loop: who the current task
is, how to park it and wake it, how to sleep on the socket's fd so that
another task can interrupt the sleep, how to tell the loop that an fd is
closing, and the checkpoints around an operation.  :class:`Backend` is that
narrow interface; there are two implementations, picked per call by
:func:`current`:

* :data:`TRIO` uses ``trio.lowlevel`` directly.  A parked task is resumed
  *with its result* by whichever task served it: ``reschedule`` and the
  abort callback of ``wait_task_rescheduled`` are atomic with cancellation,
  so a served task can never be cancelled afterwards.  Calls follow trio's
  checkpoint pattern: ``checkpoint_if_cancelled`` before the operation,
  ``cancel_shielded_checkpoint`` after it.

* :data:`ANYIO` uses only anyio's public API, so it runs on asyncio (and on
  trio, which is how the two are compared).  asyncio can deliver a
  cancellation to a task whose wake-up is already on its way, so a parked
  task is never served by another: it is *woken* and runs its own attempt
  when it resumes; a task cancelled after being woken passes the wake-up on.
  The schedule point comes *before* the operation (``anyio.lowlevel.checkpoint``)
  and there is none after it, so nothing can cancel a call whose operation
  happened.

Code running under ``anyio.run(..., backend="trio")`` is trio code and gets
:data:`TRIO`: anyio's cancel scopes are trio's there.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, Final, final

import anyio
import anyio.lowlevel
import outcome
import trio

from . import _chaos
from ._exceptions import closed_error

if TYPE_CHECKING:
    from ._engine import Engine, Waiter

#: The loop's cancel scope: both have cancel() and cancelled_caught.
Scope = trio.CancelScope | anyio.CancelScope

#: Resumes a parked anyio waiter: "look again" (served, watch, or closed).
WAKE: Final = object()


class Backend:
    """The event-loop primitives the engine and the socket layer use."""

    __slots__ = ()

    name: str
    #: True if a parked task can be handed its operation's result.
    serves_parked: bool

    def current_task(self) -> Any:
        raise NotImplementedError

    async def before_operation(self) -> None:
        """The cancel point every operation starts with."""
        raise NotImplementedError

    async def after_operation(self) -> None:
        """After an operation succeeded with no schedule point on the way:
        whatever the loop's rule asks for, and never a cancel point."""
        raise NotImplementedError

    async def checkpoint(self) -> None:
        raise NotImplementedError

    async def park(self, waiter: Waiter, abort: Any) -> Any:
        """Sleep until :meth:`wake`; return the value it was woken with."""
        raise NotImplementedError

    def wake(self, waiter: Waiter, value: outcome.Outcome[Any]) -> None:
        raise NotImplementedError

    async def sleep_on_fd(self, engine: Engine, timeout: float = 0.0) -> None:
        """Wait until the engine's fd is readable, the engine pokes us, or
        ``timeout`` seconds have passed (if not 0).

        Raises:
          ClosedResourceError: the fd was closed (notify_closing).
        """
        raise NotImplementedError

    def notify_closing(self, fd: int) -> None:
        raise NotImplementedError

    def cancel_scope(self) -> Scope:
        raise NotImplementedError

    def move_on_after(self, seconds: float) -> Scope:
        raise NotImplementedError


@final
class _Trio(Backend):
    __slots__ = ()
    name = "trio"
    serves_parked = True

    def current_task(self) -> Any:
        return trio.lowlevel.current_task()

    # trio's own functions, not wrappers: on the hot path every coroutine
    # layer costs as much as the zmq call.
    before_operation = staticmethod(trio.lowlevel.checkpoint_if_cancelled)
    after_operation = staticmethod(trio.lowlevel.cancel_shielded_checkpoint)
    checkpoint = staticmethod(trio.lowlevel.checkpoint)

    async def park(self, waiter: Waiter, abort: Any) -> Any:
        return await trio.lowlevel.wait_task_rescheduled(abort)

    def wake(self, waiter: Waiter, value: outcome.Outcome[Any]) -> None:
        trio.lowlevel.reschedule(waiter.task, value)

    async def sleep_on_fd(self, engine: Engine, timeout: float = 0.0) -> None:
        with trio.CancelScope() as scope:
            if timeout:
                scope.deadline = trio.current_time() + timeout
            engine.watch_scope = scope
            try:
                await trio.lowlevel.wait_readable(engine.fd)
            except trio.ClosedResourceError:
                raise closed_error() from None
            finally:
                engine.watch_scope = None

    def notify_closing(self, fd: int) -> None:
        trio.lowlevel.notify_closing(fd)

    def cancel_scope(self) -> trio.CancelScope:
        return trio.CancelScope()

    def move_on_after(self, seconds: float) -> trio.CancelScope:
        return trio.move_on_after(seconds)


class _Anyio(Backend):
    __slots__ = ()
    name = "anyio"
    serves_parked = False

    def current_task(self) -> Any:
        # Only for introspection (tests, repr): the anyio path never
        # reschedules a task by hand.
        return running_task()

    async def before_operation(self) -> None:
        await anyio.lowlevel.checkpoint()

    async def after_operation(self) -> None:
        # The schedule point was before the operation.
        pass

    async def checkpoint(self) -> None:
        await anyio.lowlevel.checkpoint()

    async def park(self, waiter: Waiter, abort: Any) -> Any:
        event = anyio.Event()
        waiter.event = event
        try:
            await event.wait()
        finally:
            waiter.event = None
        return WAKE

    def wake(self, waiter: Waiter, value: outcome.Outcome[Any]) -> None:
        # The waiter looks at the engine's state itself when it resumes.
        if waiter.event is not None:
            waiter.woken = True
            waiter.event.set()

    async def sleep_on_fd(self, engine: Engine, timeout: float = 0.0) -> None:
        with anyio.CancelScope() as scope:
            if timeout:
                scope.deadline = anyio.current_time() + timeout
            engine.watch_scope = scope
            try:
                await anyio.wait_readable(engine.fd)
            except (anyio.ClosedResourceError, trio.ClosedResourceError):
                # trio's own when this runs on trio (tests, benchmarks).
                raise closed_error() from None
            finally:
                engine.watch_scope = None

    def notify_closing(self, fd: int) -> None:
        anyio.notify_closing(fd)

    def cancel_scope(self) -> anyio.CancelScope:
        return anyio.CancelScope()

    def move_on_after(self, seconds: float) -> anyio.CancelScope:
        return anyio.move_on_after(seconds)


@final
class _Asyncio(_Anyio):
    """The anyio path with asyncio's own primitives where anyio would only
    add a per-call lookup of the running backend: the checkpoint (anyio's is
    ``asyncio.sleep(0)`` on asyncio) and the parking future.  Cancellation
    behaves as with anyio's Event: ``task.cancel()`` cancels the future, and
    anyio's cancel scopes do not cancel a task whose future is already done.
    """

    __slots__ = ()
    name = "asyncio"

    async def before_operation(self) -> None:
        await asyncio.sleep(0)

    async def checkpoint(self) -> None:
        await asyncio.sleep(0)

    async def park(self, waiter: Waiter, abort: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        waiter.event = future
        try:
            await future
        finally:
            waiter.event = None
        return WAKE

    def wake(self, waiter: Waiter, value: outcome.Outcome[Any]) -> None:
        future = waiter.event
        if future is not None:
            # Even if the future is done (cancelled: the task will raise
            # when it resumes), the task was woken: when it leaves without
            # serving, it must pass the wake-up on.
            waiter.woken = True
            if not future.done():
                future.set_result(None)


TRIO: Final = _Trio()
ANYIO: Final = _Anyio()
ASYNCIO: Final = _Asyncio()


def current() -> Backend:
    """The backend for the calling task: :data:`TRIO` inside a trio task,
    :data:`ASYNCIO` elsewhere (anyio supports no other loop).

    :data:`ANYIO` inside trio tasks only while a test or benchmark forces it
    (:func:`trio_zmq._core._chaos.set_force_anyio`).
    """
    return for_task(trio.lowlevel.in_trio_task())


def for_task(in_trio_task: bool) -> Backend:
    """:func:`current`, for a caller that has asked ``in_trio_task()`` itself
    (the socket layer's hot paths do, to choose their fast path)."""
    if in_trio_task:
        return ANYIO if _chaos.force_anyio else TRIO
    return ASYNCIO


def running_task() -> Any:
    """The running task as ``Waiter.task`` records it on any backend: trio's
    inside a trio task (whichever engine path), asyncio's elsewhere."""
    if trio.lowlevel.in_trio_task():
        return trio.lowlevel.current_task()
    return asyncio.current_task()


def notify_closing(fd: int) -> None:
    """Tell whichever loop runs here that ``fd`` is about to be closed.

    Outside any event loop nobody can be waiting on the fd: nothing to do.
    """
    if trio.lowlevel.in_trio_run():
        trio.lowlevel.notify_closing(fd)
        return
    with contextlib.suppress(RuntimeError):  # includes AsyncLibraryNotFoundError
        anyio.notify_closing(fd)
