"""The event loop under the caller: trio natively, or asyncio through anyio.

The engine needs only a few things from an event loop: who the current task
is, how to park it and wake it, how to sleep on the socket's fd so that
another task can interrupt the sleep (a *poke*), and the checkpoints around
an operation.  :class:`Backend` is that narrow interface, with three
implementations, picked per call by :func:`current`:

* :data:`TRIO` uses ``trio.lowlevel`` directly.  A parked task is resumed
  *with its result* by whichever task served it: ``reschedule`` and the
  abort callback of ``wait_task_rescheduled`` are atomic with cancellation,
  so a served task can never be cancelled afterwards.  Calls follow trio's
  checkpoint pattern: ``checkpoint_if_cancelled`` before the operation,
  ``cancel_shielded_checkpoint`` after it.  The watcher sleeps in
  ``wait_readable`` without a cancel scope (unless the sleep has a
  timeout) and is poked with ``notify_closing`` on the fd.

* :data:`ANYIO` uses only anyio's public API, so it runs on asyncio and on
  trio.  asyncio can deliver a cancellation to a task whose wake-up is
  already on its way, so a parked task is never served by another: it is
  *woken* and runs its own attempt when it resumes; a task cancelled after
  being woken passes the wake-up on.  The schedule point comes *before* the
  operation (``anyio.lowlevel.checkpoint``) and there is none after it, so
  nothing can cancel a call whose operation happened.  The watcher's fd
  sleep has a cancel scope, which a poke cancels.  Trio tasks get it only
  inside :func:`force_anyio` (the tests run this path under trio's
  scheduler; ``python -m benchmarks engines`` compares the two paths).

* :data:`ASYNCIO` is the :data:`ANYIO` path with asyncio's own checkpoint
  (``asyncio.sleep(0)``) and a bare loop future for parking, where anyio's
  would look up the running backend on every call.  Every task that is not
  a trio task gets it.

Code running under ``anyio.run(..., backend="trio")`` is trio code and gets
:data:`TRIO`: anyio's cancel scopes are trio's there.

Telling the loop that an fd is about to be closed is no backend method:
:func:`notify_closing` asks whichever loop is running, since closing a
socket may happen outside any task that waits on it.

**The one seam for tests.**  Which backend a task gets is decided here, by
two slots (one for trio tasks, one for the rest), and :func:`installed` is
the only way to change them.  Tests install the anyio path on trio,
broken backends (to prove the property suite catches them), and
``trio_zmq.testing.chaos_mode`` installs a :class:`Wrapper` of the current
ones that injects adversities.  Every async operation of the socket layer
takes its backend from these slots when it starts, and its cancel point,
first attempt (:meth:`Backend.try_now`), parking, fd sleep and schedule
point all go through that backend: nothing installed here is bypassed, and
production code holds no test switch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final, final

import anyio
import anyio.lowlevel
import outcome
import trio
import zmq

from ._exceptions import closed_error

if TYPE_CHECKING:
    from ._engine import Attempt, Engine, Waiter

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

    def try_now(
        self, engine: Engine, direction: int, attempt: Attempt, will_wait: bool = True
    ) -> Any:
        """The attempt before any wait: :meth:`Engine.try_now` (a backend
        that injects adversities may decide otherwise)."""
        return engine.try_now(direction, attempt, will_wait)

    async def sleep_on_fd(self, engine: Engine, timeout: float = 0.0) -> None:
        """Wait until the engine's fd is readable, :meth:`poke` is called,
        or ``timeout`` seconds have passed (if not 0).

        While it sleeps, ``engine.sleeper`` is this backend.

        Raises:
          ClosedResourceError: the engine was closed.
        """
        raise NotImplementedError

    def poke(self, engine: Engine) -> None:
        """Wake the engine's watcher from :meth:`sleep_on_fd`."""
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
        # No cancel scope unless there is a timeout: entering and leaving one
        # costs more than the rest of a park-and-wake cycle together, and a
        # watcher sleeps once per wait.  It is poked through notify_closing
        # instead (see poke()).
        engine.sleeper = self
        try:
            if timeout:
                with trio.move_on_after(timeout) as scope:
                    engine.watch_scope = scope
                    await trio.lowlevel.wait_readable(engine.fd)
            else:
                await trio.lowlevel.wait_readable(engine.fd)
        except trio.ClosedResourceError:
            if engine.closed:
                raise closed_error() from None
            # Poked: the socket is open, and the fd's registration is gone
            # until the next wait_readable makes a new one.
        finally:
            engine.sleeper = None
            engine.watch_scope = None

    def poke(self, engine: Engine) -> None:
        # trio's documented way to wake the task in wait_readable(fd) from
        # another task: notify_closing wakes it with ClosedResourceError and
        # drops the fd's registration (the next wait_readable registers it
        # anew).  The fd stays open; sleep_on_fd tells a poke from a close
        # by the engine's state.  A timed sleep has a scope: cancel that.
        if engine.watch_scope is not None:
            engine.watch_scope.cancel()
        else:
            trio.lowlevel.notify_closing(engine.fd)

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
            engine.sleeper = self
            try:
                await anyio.wait_readable(engine.fd)
            except (anyio.ClosedResourceError, trio.ClosedResourceError):
                # trio's own when this runs on trio (tests, benchmarks).
                raise closed_error() from None
            finally:
                engine.watch_scope = None
                engine.sleeper = None

    def poke(self, engine: Engine) -> None:
        # asyncio has no notify_closing that leaves the fd usable: a cancel
        # scope per sleep it is.
        engine.watch_scope.cancel()

    def move_on_after(self, seconds: float) -> anyio.CancelScope:
        return anyio.move_on_after(seconds)


@final
class _Asyncio(_Anyio):
    """The anyio path with asyncio's own primitives where anyio would only
    add a per-call lookup of the running backend: the checkpoint (anyio's is
    ``asyncio.sleep(0)`` on asyncio) and the parking future.  Cancellation
    behaves as with anyio's Event: ``task.cancel()`` cancels the future, and
    anyio's cancel scopes do not cancel a task whose future is already done.

    The watcher sleeps on a future too, resolved by a reader callback that
    stays registered with the loop from the socket's first wait to its
    close (:func:`_on_fd_readable`), as zmq.asyncio keeps its reader: a
    registration per sleep (anyio's ``wait_readable``) costs two
    ``epoll_ctl`` calls and a cancel scope per wait.  asyncio's selector is
    level-triggered, so an fd that stays readable while nobody watches is
    served by the callback itself, which reads ZMQ_EVENTS and so consumes
    the edge, or, if nobody waits at all, unregistered until the next wait.
    A loop without ``add_reader`` gets anyio's path.
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

    async def sleep_on_fd(self, engine: Engine, timeout: float = 0.0) -> None:
        loop = asyncio.get_running_loop()
        if engine.fd_loop is not loop and not _watch_fd(engine, loop):
            await super().sleep_on_fd(engine, timeout)
            return
        future = loop.create_future()
        timer = loop.call_later(timeout, _resolve, future) if timeout else None
        engine.fd_flagged = False  # it served just now
        engine.watch_scope = future
        engine.sleeper = self
        try:
            await future
        finally:
            engine.watch_scope = None
            engine.sleeper = None
            if timer is not None:
                timer.cancel()
        if engine.closed:
            raise closed_error()

    def poke(self, engine: Engine) -> None:
        scope = engine.watch_scope
        if isinstance(scope, asyncio.Future):
            _resolve(scope)
        else:
            super().poke(engine)  # anyio's path: a cancel scope


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _watch_fd(engine: Engine, loop: asyncio.AbstractEventLoop) -> bool:
    """Register the engine's fd with ``loop`` for good (until
    :func:`forget_fd`); False if the loop cannot watch fds."""
    forget_fd(engine)
    try:
        loop.add_reader(engine.fd, _on_fd_readable, engine, loop)
    except NotImplementedError:
        return False
    engine.fd_loop = loop
    return True


def _on_fd_readable(engine: Engine, loop: asyncio.AbstractEventLoop) -> None:
    """The fd of a socket that asyncio tasks have waited on is readable."""
    if engine.fd_loop is not loop:
        # A registration the engine has left (another loop took over).
        loop.remove_reader(engine.fd)
        return
    future = engine.watch_scope
    if isinstance(future, asyncio.Future):
        _resolve(future)
    elif engine.watcher is not None or engine.closed:
        pass  # the watcher is on its way: it serves before it sleeps
    elif not engine.fd_flagged:
        # Nobody watches.  Often the report is stale: the selector saw the
        # fd before the task that was woken by it made its zmq call, which
        # consumed the edge.  If the fd is still readable on the next turn
        # of the loop, the report comes again.
        engine.fd_flagged = True
    elif engine.busy:
        # Readable on two turns of the loop with tasks waiting and none
        # watching: serve them (parked tasks are woken), which also
        # consumes the edge, else the level-triggered selector would
        # report it again on every turn.
        engine.fd_flagged = False
        try:
            engine.serve()
        except (trio.ClosedResourceError, zmq.ZMQError):
            forget_fd(engine)  # closed behind the library's back
    else:
        # Nobody waits: stop listening until the next wait registers the fd
        # again.  A socket whose calls do not wait (a REQ whose replies are
        # there when it asks) would otherwise pay a ZMQ_EVENTS read here
        # for every message.
        forget_fd(engine)


def forget_fd(engine: Engine) -> None:
    """Drop the engine's lasting registration with an asyncio loop, if it
    has one (its socket is closing, or the engine is being dropped)."""
    loop = engine.fd_loop
    if loop is None:
        return
    engine.fd_loop = None
    if loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is not loop and loop.is_running():
        # The loop runs in another thread: let it drop the reader itself.
        loop.call_soon_threadsafe(_drop_reader, loop, engine.fd)
    else:
        _drop_reader(loop, engine.fd)


def _drop_reader(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    with contextlib.suppress(ValueError, OSError):  # fd closed behind our back
        loop.remove_reader(fd)


class Wrapper(Backend):
    """A backend that does what ``inner`` does; subclasses change a step.

    What tests install through :func:`installed` is usually one of these
    (``trio_zmq.testing``'s chaos backend, the test suite's broken ones).
    """

    __slots__ = ("inner", "name", "serves_parked")

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = f"{type(self).__name__}({inner.name})"
        self.serves_parked = inner.serves_parked

    def current_task(self) -> Any:
        return self.inner.current_task()

    async def before_operation(self) -> None:
        await self.inner.before_operation()

    async def after_operation(self) -> None:
        await self.inner.after_operation()

    async def checkpoint(self) -> None:
        await self.inner.checkpoint()

    def try_now(
        self, engine: Engine, direction: int, attempt: Attempt, will_wait: bool = True
    ) -> Any:
        return self.inner.try_now(engine, direction, attempt, will_wait)

    async def park(self, waiter: Waiter, abort: Any) -> Any:
        return await self.inner.park(waiter, abort)

    def wake(self, waiter: Waiter, value: outcome.Outcome[Any]) -> None:
        self.inner.wake(waiter, value)

    async def sleep_on_fd(self, engine: Engine, timeout: float = 0.0) -> None:
        await self.inner.sleep_on_fd(engine, timeout)

    def poke(self, engine: Engine) -> None:
        self.inner.poke(engine)

    def move_on_after(self, seconds: float) -> Scope:
        return self.inner.move_on_after(seconds)


TRIO: Final = _Trio()
ANYIO: Final = _Anyio()
ASYNCIO: Final = _Asyncio()


#: The backend of trio tasks, and of all other tasks (asyncio's: anyio
#: supports no other loop).  Changed only through installed().
for_trio: Backend = TRIO
for_others: Backend = ASYNCIO


def current() -> Backend:
    """The backend for the calling task: :data:`TRIO` inside a trio task,
    :data:`ASYNCIO` elsewhere, unless a test has :func:`installed` others."""
    return for_trio if trio.lowlevel.in_trio_task() else for_others


@contextlib.contextmanager
def installed(
    *, trio_tasks: Backend | None = None, other_tasks: Backend | None = None
) -> Iterator[None]:
    """Give trio tasks and other tasks (asyncio's) another
    backend for the duration of the block; restore the previous ones after.

    The one hook through which tests change the engine's behaviour (see
    the module docstring).  Blocks nest; not thread-safe (neither is any
    event loop).
    """
    global for_trio, for_others
    saved = for_trio, for_others
    if trio_tasks is not None:
        for_trio = trio_tasks
    if other_tasks is not None:
        for_others = other_tasks
    try:
        yield
    finally:
        for_trio, for_others = saved


def force_anyio() -> contextlib.AbstractContextManager[None]:
    """Make trio tasks take the engine's anyio path in the block (the tests
    run that path under trio's scheduler; the benchmarks compare the two)."""
    return installed(trio_tasks=ANYIO)


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
