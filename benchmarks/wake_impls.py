"""The implementations ``python -m benchmarks wake`` compares: one :class:`Api` each.

The wake workloads (:mod:`benchmarks.wake`) are written once against
:class:`Api`: sockets, their calls, tasks.  An implementation is an ``Api``
and the event loop it runs on, ``Implementation(KEY, LABEL, runner(LOOP,
OPEN_API))`` in ``IMPLEMENTATIONS``; the rows, in table order:

* ``trio_zmq``: its public API only (:class:`trio_zmq.Context`,
  ``Socket.recv``/``send``/``recv_multipart``/``send_multipart``), on trio;
* ``trio_zmq channels``: the same sockets through their channel views
  (``sock.receive_channel().receive``, ``sock.send_channel().send``), whose
  items are multipart messages (a list of frames);
* ``trio_zmq on asyncio`` and ``trio_zmq channels on asyncio``: the same
  two, on asyncio through anyio (``anyio.run(backend="asyncio")``, anyio's
  task groups);
* ``zmq.asyncio``: pyzmq's own asyncio sockets, on asyncio, with plain
  asyncio tasks (the baseline of the ratios);
* ``naive trio loop``: the floor of what a trio call can cost -- one task per
  socket, each call ``trio.lowlevel.checkpoint_if_cancelled()``, the
  non-blocking pyzmq call, and on ``zmq.Again`` a look at ZMQ_EVENTS and, if
  the socket is still not ready, ``trio.lowlevel.wait_readable`` on ZMQ_FD
  before trying again; every call ends with
  ``trio.lowlevel.cancel_shielded_checkpoint()``, so every call is a
  checkpoint as trio's rule asks.  That includes a call that parked, as
  trio_zmq's do: without that schedule point a consumer woken by its
  producer takes the next message in the same step, drains the producer's
  backlog and then parks for every message (docs/design.md, "Waiting costs
  what a plain loop costs"), so both implementations keep it and the ratio
  measures the machinery, not a scheduling difference;
* ``naive asyncio loop``: the same loop on asyncio, as a user would write
  it: ZMQ_FD registered once per socket with ``loop.add_reader``, each call
  the non-blocking pyzmq call, and on ``zmq.Again`` a look at ZMQ_EVENTS
  and, if the socket is still not ready, an await on a future that the
  reader callback completes.  The callback wakes the socket's waiting tasks;
  when none waits it reads ZMQ_EVENTS itself, which takes the signal (else
  the level-triggered selector would call it again on every pass of the
  loop).  A call that does not wait does not yield, as zmq.asyncio's does
  not: asyncio has no rule that every call is a schedule point.  So a task
  whose socket holds messages takes them all in one step: in the pipelines
  and fan-in it parks about once per few hundred jobs, where the trio loops,
  which yield at every call, take turns per message.

Both naive loops are correct only with one task per socket direction,
which is all the workloads use.  Every context has room for
:data:`MAX_SOCKETS` sockets (the idle workload opens a thousand).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, cast

import anyio
import trio
import zmq
import zmq.asyncio
from trio.lowlevel import cancel_shielded_checkpoint, checkpoint_if_cancelled, wait_readable

import trio_zmq

from . import loops
from .framework import Implementation

SUBJECT = "trio_zmq"
CHANNELS = "trio_zmq_channels"
ON_ASYNCIO = "trio_zmq_asyncio"
CHANNELS_ON_ASYNCIO = "trio_zmq_channels_asyncio"
BASELINE = "zmq_asyncio"
FLOOR = "naive"
ASYNCIO_FLOOR = "naive_asyncio"

#: Sockets every context of a trial may hold (libzmq's default is 1023).
MAX_SOCKETS = 2048

_NOBLOCK = int(zmq.NOBLOCK)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
_POLLOUT = int(zmq.POLLOUT)


# ----------------------------------------------------------------------
# What the workloads are written against
# ----------------------------------------------------------------------


class Endpoint(Protocol):
    """The part of a socket the workloads use directly: where it connects."""

    def bind(self, addr: str) -> object: ...
    def connect(self, addr: str) -> object: ...
    def bind_to_random_port(self, addr: str) -> int: ...


class Group(Protocol):
    """The tasks of a workload: a trio nursery, or its equivalent on asyncio.

    Leaving the ``async with`` block waits for every task started in it;
    :meth:`cancel` ends the ones that wait forever (workers, servers).
    """

    def start(self, function: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None: ...
    def cancel(self) -> None: ...


#: A socket's call, bound once before the loop that makes it.
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[Any]]


class Api(Protocol):
    """One implementation's sockets and tasks, inside its event loop."""

    def socket(self, socket_type: int) -> Endpoint: ...
    def message(self, frame: bytes) -> Any:
        """What its send calls take for a one-frame message ``frame``."""
        ...

    def receiver(self, sock: Any) -> Receive: ...
    def sender(self, sock: Any) -> Send: ...
    def multipart_receiver(self, sock: Any) -> Receive: ...
    def multipart_sender(self, sock: Any) -> Send: ...
    def group(self) -> AbstractAsyncContextManager[Group]: ...
    async def sleep(self, seconds: float) -> None: ...


#: A workload's body: runs under an implementation, returns its rate per second.
Body = Callable[[Api], Awaitable[float]]
#: Runs a body in a fresh event loop and context, within a deadline
#: (seconds); raises TrialTimeout when it passes.
Runner = Callable[[Body, float], float]


# -- tasks ----------------------------------------------------------------


class _NurseryGroup:
    """A trio nursery or an anyio task group (they have the same shape)."""

    def __init__(self, nursery: trio.Nursery | anyio.abc.TaskGroup) -> None:
        self._nursery = nursery

    def start(self, function: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        self._nursery.start_soon(function, *args)

    def cancel(self) -> None:
        self._nursery.cancel_scope.cancel()


class _OnNurseries:
    """Tasks in a nursery-shaped task group, and sleeps, through
    :attr:`open_group` and :attr:`pause`."""

    open_group: Callable[[], AbstractAsyncContextManager[Any]]
    pause: Callable[[float], Awaitable[None]]

    @asynccontextmanager
    async def group(self) -> AsyncIterator[Group]:
        async with self.open_group() as nursery:
            yield _NurseryGroup(nursery)

    async def sleep(self, seconds: float) -> None:
        await self.pause(seconds)


class _OnTrio(_OnNurseries):
    """Tasks and sleeps on trio."""

    open_group = staticmethod(trio.open_nursery)
    pause = staticmethod(trio.sleep)


class _OnAnyio(_OnNurseries):
    """Tasks and sleeps through anyio (on asyncio here)."""

    open_group = staticmethod(anyio.create_task_group)
    pause = staticmethod(anyio.sleep)


class _AsyncioGroup:
    """A nursery of plain asyncio tasks (asyncio.TaskGroup is not in 3.10).

    The first task to fail cancels the host task, which then cancels the
    others and raises that task's exception.
    """

    def __init__(self) -> None:
        host = asyncio.current_task()
        assert host is not None
        self._host = host
        self.tasks: set[asyncio.Task[object]] = set()
        self.error: BaseException | None = None

    def start(self, function: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(function(*args))
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def cancel(self) -> None:
        for task in self.tasks:
            task.cancel()

    def _done(self, task: asyncio.Task[object]) -> None:
        if task.cancelled() or task.exception() is None or self.error is not None:
            return
        self.error = task.exception()
        self._host.cancel()


class _OnAsyncio:
    """Tasks and sleeps on asyncio, plain asyncio tasks."""

    @asynccontextmanager
    async def group(self) -> AsyncIterator[Group]:
        group = _AsyncioGroup()
        try:
            yield group
            if group.tasks:
                await asyncio.wait(group.tasks)
        except asyncio.CancelledError:
            if group.error is None:
                raise
            raise group.error from None
        finally:
            group.cancel()
            if group.tasks:
                await asyncio.gather(*group.tasks, return_exceptions=True)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# -- trio_zmq: sockets and channel views ------------------------------------


class _TrioZmqSockets:
    """trio_zmq's public API: its context, its sockets' bound methods."""

    def __init__(self, ctx: trio_zmq.Context) -> None:
        self._ctx = ctx

    def socket(self, socket_type: int) -> Endpoint:
        return self._ctx.socket(socket_type)

    def message(self, frame: bytes) -> Any:
        return frame

    def receiver(self, sock: trio_zmq.Socket) -> Receive:
        return sock.recv

    def sender(self, sock: trio_zmq.Socket) -> Send:
        return sock.send

    def multipart_receiver(self, sock: trio_zmq.Socket) -> Receive:
        return sock.recv_multipart

    def multipart_sender(self, sock: trio_zmq.Socket) -> Send:
        return sock.send_multipart


class _TrioZmqChannels(_TrioZmqSockets):
    """trio_zmq's channel views: a receive or send view per socket and call
    (closed with the socket); every message is a list of frames."""

    def message(self, frame: bytes) -> Any:
        return [frame]

    def receiver(self, sock: trio_zmq.Socket) -> Receive:
        return sock.receive_channel().receive

    def sender(self, sock: trio_zmq.Socket) -> Send:
        return sock.send_channel().send

    multipart_receiver = receiver
    multipart_sender = sender


class _TrioZmqApi(_OnTrio, _TrioZmqSockets):
    pass


class _TrioZmqChannelApi(_OnTrio, _TrioZmqChannels):
    pass


class _TrioZmqAnyioApi(_OnAnyio, _TrioZmqSockets):
    pass


class _TrioZmqChannelAnyioApi(_OnAnyio, _TrioZmqChannels):
    pass


# -- pyzmq sockets: zmq.asyncio and the naive loops ---------------------------


class _Sockets:
    """A trial's pyzmq context and the sockets it made, closed together
    once the trial's tasks are over (pyzmq's context keeps only weak
    references: a socket must not be left to the garbage collector)."""

    def __init__(self, zctx: zmq.Context[Any]) -> None:
        zctx.set(zmq.MAX_SOCKETS, MAX_SOCKETS)
        self._zctx = zctx
        self._made: list[zmq.Socket[Any]] = []

    def socket(self, socket_type: int) -> Endpoint:
        sock: zmq.Socket[Any] = self._zctx.socket(socket_type)
        self._made.append(sock)
        return sock

    def message(self, frame: bytes) -> Any:
        return frame

    def close(self) -> None:
        """Close every socket (LINGER 0), then terminate the context."""
        for sock in self._made:
            sock.close(linger=0)
        self._zctx.term()


class _AsyncioApi(_OnAsyncio, _Sockets):
    """zmq.asyncio's sockets on asyncio, with plain asyncio tasks."""

    def receiver(self, sock: zmq.asyncio.Socket) -> Receive:
        return sock.recv

    def sender(self, sock: zmq.asyncio.Socket) -> Send:
        return sock.send

    def multipart_receiver(self, sock: zmq.asyncio.Socket) -> Receive:
        return sock.recv_multipart

    def multipart_sender(self, sock: zmq.asyncio.Socket) -> Send:
        return sock.send_multipart


def _naive(
    zsock: zmq.Socket[bytes], operation: Callable[..., Any], ready: int
) -> Callable[..., Awaitable[Any]]:
    """The naive trio loop around ``operation`` (a pyzmq call taking flags last).

    ``ready`` is the ZMQ_EVENTS bit the operation needs.  ZMQ_FD signals
    both directions by becoming readable, so both wait with wait_readable.
    """
    fd = cast(int, zsock.getsockopt(zmq.FD))
    events = zsock.getsockopt

    async def call(*args: Any) -> Any:
        await checkpoint_if_cancelled()
        while True:
            try:
                result = operation(*args, _NOBLOCK)
            except zmq.Again:
                if not cast(int, events(_EVENTS)) & ready:
                    await wait_readable(fd)
                continue
            await cancel_shielded_checkpoint()
            return result

    return call


class _NaiveApi(_OnTrio, _Sockets):
    """Plain pyzmq sockets, each call the naive trio loop."""

    def receiver(self, sock: zmq.Socket[bytes]) -> Receive:
        return _naive(sock, sock.recv, _POLLIN)

    def sender(self, sock: zmq.Socket[bytes]) -> Send:
        return _naive(sock, sock.send, _POLLOUT)

    def multipart_receiver(self, sock: zmq.Socket[bytes]) -> Receive:
        return _naive(sock, sock.recv_multipart, _POLLIN)

    def multipart_sender(self, sock: zmq.Socket[bytes]) -> Send:
        return _naive(sock, sock.send_multipart, _POLLOUT)


class _Watch:
    """A socket's ZMQ_FD, registered with the asyncio loop once, and the
    futures of the tasks waiting for it to change."""

    def __init__(self, zsock: zmq.Socket[bytes], loop: asyncio.AbstractEventLoop) -> None:
        self.fd = cast(int, zsock.getsockopt(zmq.FD))
        self.events = zsock.getsockopt
        self._loop = loop
        self._waiters: list[asyncio.Future[None]] = []
        loop.add_reader(self.fd, self._readable)

    def wait(self) -> asyncio.Future[None]:
        """A future the next signal on ZMQ_FD completes."""
        future = self._loop.create_future()
        self._waiters.append(future)
        return future

    def _readable(self) -> None:
        waiters = self._waiters
        if not waiters:
            self.events(_EVENTS)  # nobody waits: take the signal
            return
        self._waiters = []
        for future in waiters:
            if not future.done():  # not cancelled
                future.set_result(None)

    def close(self) -> None:
        self._loop.remove_reader(self.fd)


def _naive_asyncio(
    watch: _Watch, operation: Callable[..., Any], ready: int
) -> Callable[..., Awaitable[Any]]:
    """The naive asyncio loop around ``operation`` (a pyzmq call taking
    flags last); ``ready`` is the ZMQ_EVENTS bit it needs."""
    events = watch.events

    async def call(*args: Any) -> Any:
        while True:
            try:
                return operation(*args, _NOBLOCK)
            except zmq.Again:
                if not cast(int, events(_EVENTS)) & ready:
                    await watch.wait()

    return call


class _NaiveAsyncioApi(_OnAsyncio, _Sockets):
    """Plain pyzmq sockets, each call the naive asyncio loop."""

    def __init__(self, zctx: zmq.Context[Any]) -> None:
        super().__init__(zctx)
        self._watches: dict[zmq.Socket[bytes], _Watch] = {}

    def _watch(self, sock: zmq.Socket[bytes]) -> _Watch:
        watch = self._watches.get(sock)
        if watch is None:
            watch = self._watches[sock] = _Watch(sock, asyncio.get_running_loop())
        return watch

    def receiver(self, sock: zmq.Socket[bytes]) -> Receive:
        return _naive_asyncio(self._watch(sock), sock.recv, _POLLIN)

    def sender(self, sock: zmq.Socket[bytes]) -> Send:
        return _naive_asyncio(self._watch(sock), sock.send, _POLLOUT)

    def multipart_receiver(self, sock: zmq.Socket[bytes]) -> Receive:
        return _naive_asyncio(self._watch(sock), sock.recv_multipart, _POLLIN)

    def multipart_sender(self, sock: zmq.Socket[bytes]) -> Send:
        return _naive_asyncio(self._watch(sock), sock.send_multipart, _POLLOUT)

    def close(self) -> None:
        """Unregister every ZMQ_FD, then close the sockets."""
        for watch in self._watches.values():
            watch.close()
        super().close()


# -- running a body under each implementation ----------------------------


def _trio_zmq_api(make: Callable[[trio_zmq.Context], Api]) -> Callable[[], AsyncIterator[Api]]:
    """Opens a trio_zmq context (on the running loop) and ``make``'s Api over it."""

    async def open_api() -> AsyncIterator[Api]:
        async with trio_zmq.Context(linger=0) as ctx:
            ctx.zmq_context.set(zmq.MAX_SOCKETS, MAX_SOCKETS)
            yield make(ctx)

    return open_api


def _pyzmq_api(
    make: Callable[[zmq.Context[Any]], _Sockets], context: Callable[[], zmq.Context[Any]]
) -> Callable[[], AsyncIterator[Api]]:
    """Opens ``make``'s Api over a fresh pyzmq context; closes its sockets
    once the trial's tasks are over (nobody waits on an FD then)."""

    async def open_api() -> AsyncIterator[Api]:
        api = make(context())
        try:
            yield cast(Api, api)
        finally:
            api.close()

    return open_api


def runner(loop: loops.Loop[float], open_api: Callable[[], AsyncIterator[Api]]) -> Runner:
    """Runs a body on ``loop``, with the Api ``open_api`` opens and closes."""
    opened = asynccontextmanager(open_api)

    def run(body: Body, timeout: float) -> float:
        async def main() -> float:
            async with opened() as api:
                return await body(api)

        return loop(main, timeout)

    return run


#: In table order.  Each round runs them in this order, rotated by one.
IMPLEMENTATIONS: tuple[Implementation[Runner], ...] = (
    Implementation(SUBJECT, "trio_zmq", runner(loops.on_trio, _trio_zmq_api(_TrioZmqApi))),
    Implementation(
        CHANNELS, "trio_zmq channels", runner(loops.on_trio, _trio_zmq_api(_TrioZmqChannelApi))
    ),
    Implementation(
        ON_ASYNCIO,
        "trio_zmq on asyncio",
        runner(loops.on_anyio_asyncio, _trio_zmq_api(_TrioZmqAnyioApi)),
    ),
    Implementation(
        CHANNELS_ON_ASYNCIO,
        "trio_zmq channels on asyncio",
        runner(loops.on_anyio_asyncio, _trio_zmq_api(_TrioZmqChannelAnyioApi)),
    ),
    Implementation(
        BASELINE,
        "zmq.asyncio",
        runner(loops.on_asyncio, _pyzmq_api(_AsyncioApi, zmq.asyncio.Context)),
    ),
    Implementation(
        FLOOR, "naive trio loop", runner(loops.on_trio, _pyzmq_api(_NaiveApi, zmq.Context))
    ),
    Implementation(
        ASYNCIO_FLOOR,
        "naive asyncio loop",
        runner(loops.on_asyncio, _pyzmq_api(_NaiveAsyncioApi, zmq.Context)),
    ),
)
