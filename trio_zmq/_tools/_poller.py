"""``trio_zmq.Poller``: pyzmq's ``Poller``, waiting the trio_zmq way.

The API is pyzmq's (``register``, ``modify``, ``unregister``, ``poll``
returning ``[(socket, events)]``), over any mix of ``trio_zmq.Socket``, plain
``zmq.Socket`` and raw file descriptors (ints or objects with ``fileno()``).

How one ``await poller.poll()`` works:

1. **A checkpoint, then a probe pass.**  Every registered item is probed
   without blocking: ``ZMQ_EVENTS`` for a zmq socket (as
   :func:`trio_zmq.probe` does: the read may consume the fd's edge, so the
   socket's engine then serves whoever waits on it), one ``select.poll``
   call with a zero timeout for all the raw fds.  If anything is ready, that
   is the answer: no task is started (the common case is cheap).
2. **Otherwise, wait for the first readiness.**  One wait per socket, in
   the socket's engine (:func:`trio_zmq._core._wait.wait_events`) like any
   other task's, so it coexists with tasks blocked in ``recv``/``send`` on
   the same socket; one wait per raw fd and direction, in the event loop
   (``trio.lowlevel.wait_readable`` / ``anyio.wait_readable`` and their
   writable twins).  With a single wait the caller's task waits; with
   several, a task group scoped to the call (it never outlives ``poll()``)
   runs a child per wait but the first, which the caller's task waits
   itself.  The first wait to see readiness cancels the others; a
   readiness wait consumes nothing, so cancelling them is harmless.
3. **A second probe pass** lists *everything* ready at that moment, as pyzmq
   does.  If it finds nothing (a task blocked in ``recv`` on the same socket
   took the message first), the poll waits again: it returns an empty list
   only on timeout.

Nothing is consumed at any step, so a cancelled poll loses nothing.
"""

from __future__ import annotations

import functools
import math
import select
from collections.abc import Awaitable, Callable
from typing import Any, Final, final

import anyio
import trio
import zmq

from .._core import _backend, _registry
from .._core._engine import read_events
from .._core._exceptions import closed_error
from .._core._wait import wait_events

POLLIN: Final = int(zmq.POLLIN)
POLLOUT: Final = int(zmq.POLLOUT)
POLLERR: Final = int(zmq.POLLERR)
_BOTH: Final = POLLIN | POLLOUT

# select.poll()'s bits, and how libzmq's zmq_poll() maps a raw fd's revents
# (anything but IN, OUT and PRI becomes ZMQ_POLLERR: POLLHUP, POLLERR, POLLNVAL).
_SELECT_IN: Final = select.POLLIN
_SELECT_OUT: Final = select.POLLOUT
_SELECT_OTHER: Final = ~(select.POLLIN | select.POLLOUT | select.POLLPRI)

#: One entry of a poll: (what the result reports, the zmq socket or None,
#: the raw fd or -1, the registered flags).
_Entry = tuple[Any, "zmq.Socket[Any] | None", int, int]
_Wait = Callable[[], Awaitable[object]]


@final
class Poller:
    """pyzmq's :class:`zmq.Poller` for trio, anyio and asyncio code.

    ``register(item, flags=POLLIN | POLLOUT)`` takes a ``trio_zmq.Socket``,
    a plain ``zmq.Socket``, an int fd or an object with ``fileno()``;
    ``await poll(timeout=None)`` returns ``[(item, events)]`` for the items
    that are ready, in registration order, as pyzmq does: the zmq socket as
    registered, and for raw fds the fd number (pyzmq returns ``fileno()``,
    not the object).  Raw fds report ``POLLERR`` for hang-ups and errors,
    as libzmq's ``zmq_poll`` does.

    ``timeout`` is in milliseconds, as in pyzmq: ``None`` or negative waits
    until something is ready, ``0`` only probes, a positive number waits at
    most that long (fractions count, as in ``zmq.asyncio``) and then returns
    what is ready, possibly ``[]``.  Cancel scopes work as everywhere in
    trio_zmq: a cancelled poll raises the loop's cancellation and has
    consumed nothing.

    Every poll is a checkpoint.  It waits in your task (with a task group
    scoped to the call when it waits on several things), never in the
    background.  Tasks blocked in ``recv``/``send`` on a registered socket
    keep working: a poll never consumes a message, and a message they take
    before the poll answers is not reported (the poll goes on waiting).

    A registered zmq socket that is or gets closed makes ``poll()`` raise
    :exc:`trio_zmq.ClosedResourceError` (caught as trio's and anyio's), as
    its ``recv`` would.  While it waits on a raw fd the poll holds the event
    loop's one waiting slot for that fd and direction: another task waiting
    on the same fd at the same time gets the loop's ``BusyResourceError``
    (and so would the poll, if it came second).  Close a raw fd only after
    ``trio.lowlevel.notify_closing(fd)`` / ``anyio.notify_closing(fd)``,
    which wakes the poll with ``ClosedResourceError``.

    Registrations are read when ``poll()`` starts; changing them during a
    poll affects the next one.
    """

    __slots__ = ("_flags", "_plan")

    def __init__(self) -> None:
        #: item -> flags, in registration order (a dict keeps it, and
        #: re-registering keeps the item's place, as pyzmq's list does).
        self._flags: dict[Any, int] = {}
        #: The registrations resolved for polling, kept until they change.
        self._plan: _Plan | None = None

    @property
    def sockets(self) -> list[tuple[Any, int]]:
        """``[(item, flags)]`` in registration order (a copy), as pyzmq's."""
        return list(self._flags.items())

    def __contains__(self, socket: object) -> bool:
        return socket in self._flags

    def __len__(self) -> int:
        return len(self._flags)

    def __repr__(self) -> str:
        return f"<trio_zmq.Poller with {len(self._flags)} registered>"

    def register(self, socket: Any, flags: int = _BOTH) -> None:
        """Watch ``socket`` for ``flags`` (POLLIN, POLLOUT or both).

        ``socket`` is a ``trio_zmq.Socket``, a plain ``zmq.Socket``, an int
        fd or an object with ``fileno()``.  Registering again replaces the
        flags; ``flags=0`` unregisters it (and is ignored for an item that is
        not registered), as in pyzmq.

        Raises:
          TypeError: ``socket`` is none of those, or a zmq socket with async
            methods of its own (``zmq.asyncio.Socket``: register
            ``zmq.Socket.shadow(sock.underlying)``); ``flags`` is not an int.
          ValueError: ``flags`` has bits other than POLLIN and POLLOUT, or
            ``socket`` is a negative fd.
        """
        flags = _check_flags(flags)
        _check_item(socket)
        self._plan = None
        if flags:
            self._flags[socket] = flags
        else:
            self._flags.pop(socket, None)

    def modify(self, socket: Any, flags: int = _BOTH) -> None:
        """Change the flags of ``socket`` (as :meth:`register`)."""
        self.register(socket, flags)

    def unregister(self, socket: Any) -> None:
        """Stop watching ``socket``.

        Raises:
          KeyError: it is not registered (as pyzmq).
        """
        del self._flags[socket]
        self._plan = None

    async def poll(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        """Wait until a registered item is ready; return ``[(item, events)]``.

        See the class docstring for the items, the events and ``timeout``
        (milliseconds; ``None`` or negative: no limit; ``0``: probe).

        Raises:
          TypeError: ``timeout`` is not a number (before any waiting).
          ValueError: an object's ``fileno()`` is not a valid fd (before any
            waiting).
          trio_zmq.ClosedResourceError: a registered zmq socket is or gets
            closed, or a raw fd is closed through ``notify_closing``.
          trio.BusyResourceError / anyio.BusyResourceError: another task
            waits on a registered raw fd in the same direction.
        """
        seconds = _check_timeout(timeout)
        plan = self._plan
        if plan is None or plan.resolves_fds:
            plan = _Plan(self._flags)
            # Kept until the registrations change, unless an object's
            # fileno() must be asked again at every poll (as pyzmq does).
            self._plan = None if plan.resolves_fds else plan
        backend = _backend.current()
        await backend.checkpoint()
        ready = plan.probe()
        if ready or seconds == 0.0:
            return ready
        if seconds is None:
            return await _wait_until_ready(plan)
        with backend.move_on_after(seconds):
            return await _wait_until_ready(plan)
        # Timed out: what is ready now (as zmq.asyncio's poll(0) at its
        # timeout), most likely nothing.
        return plan.probe()


# ----------------------------------------------------------------------
# Checking input (everything raises before any waiting)
# ----------------------------------------------------------------------


def _check_flags(flags: object) -> int:
    if isinstance(flags, bool) or not isinstance(flags, int):
        raise TypeError(f"flags must be an int (POLLIN, POLLOUT or both), not {flags!r}")
    if flags & ~_BOTH or flags < 0:
        raise ValueError(f"flags must be POLLIN, POLLOUT, both or 0, not {flags!r}")
    return int(flags)


def _check_item(socket: object) -> None:
    if isinstance(socket, zmq.Socket):
        _check_plain(socket)
    elif hasattr(socket, "zmq_socket"):  # trio_zmq.Socket, or anything like it
        pass
    elif isinstance(socket, int) and not isinstance(socket, bool):
        if socket < 0:
            raise ValueError(f"a file descriptor cannot be negative: {socket}")
    elif not callable(getattr(socket, "fileno", None)):
        raise TypeError(
            "expected a trio_zmq.Socket, a zmq.Socket, an int fd or an object with a "
            f"fileno() method, not {socket!r}"
        )


def _check_plain(zsock: zmq.Socket[Any]) -> None:
    if type(zsock).recv is not zmq.Socket.recv:
        raise TypeError(
            f"{type(zsock).__name__} has async methods of its own and watches its fd "
            "itself; register a plain zmq.Socket (zmq.Socket.shadow(sock.underlying)) "
            "or a trio_zmq.Socket"
        )


def _check_timeout(timeout: object) -> float | None:
    """Milliseconds (pyzmq's unit) -> seconds; None for no limit."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"timeout must be a number of milliseconds or None, not {timeout!r}")
    if math.isnan(timeout):
        raise ValueError("timeout must not be NaN")
    if timeout < 0:
        return None
    return timeout / 1000


def _fileno(item: Any) -> int:
    try:
        fd = item.fileno()
    except Exception as exc:
        raise ValueError(f"fileno() of {item!r} failed: {exc}") from exc
    if isinstance(fd, bool) or not isinstance(fd, int) or fd < 0:
        raise ValueError(f"fileno() of {item!r} must return a valid fd, not {fd!r} (closed?)")
    return fd


# ----------------------------------------------------------------------
# The registrations, resolved: probing and the waits
# ----------------------------------------------------------------------


@final
class _Plan:
    """The registrations as one poll uses them: zmq sockets and fd numbers,
    the probe pass, and the readiness waits."""

    __slots__ = ("entries", "fd_masks", "resolves_fds", "waits_by_loop")

    def __init__(self, flags: dict[Any, int]) -> None:
        #: (what the result reports, zmq socket or None, fd or -1, flags)
        self.entries: list[_Entry] = []
        #: fd -> the union of its registrations' flags
        self.fd_masks: dict[int, int] = {}
        #: True if an object's fileno() was asked (again at every poll).
        self.resolves_fds = False
        #: The waits, built when first needed, per kind of task (trio's own
        #: fd waits in trio tasks, anyio's elsewhere).
        self.waits_by_loop: dict[bool, list[_Wait]] = {}
        for item, mask in flags.items():
            if isinstance(item, zmq.Socket):
                self.entries.append((item, item, -1, mask))
            elif hasattr(item, "zmq_socket"):
                self.entries.append((item, item.zmq_socket, -1, mask))
            else:
                if isinstance(item, int):
                    fd = item
                else:
                    fd = _fileno(item)
                    self.resolves_fds = True
                # pyzmq reports raw fds by number, even when registered as objects.
                self.entries.append((fd, None, fd, mask))
                self.fd_masks[fd] = self.fd_masks.get(fd, 0) | mask

    def probe(self) -> list[tuple[Any, int]]:
        """``[(item, events)]`` for every entry ready now, in order.

        Synchronous, never a checkpoint.  A zmq socket is probed as
        :func:`trio_zmq.probe` does it: ZMQ_EVENTS, whose read may consume
        the fd's edge that a task blocked on the socket sleeps on, so the
        socket's engine (if any) then serves its waiters from a fresh read.
        """
        fd_events = _fd_events(self.fd_masks) if self.fd_masks else {}
        ready: list[tuple[Any, int]] = []
        call_and_serve = _registry.call_and_serve
        for item, zsock, fd, mask in self.entries:
            if zsock is not None:
                if zsock.closed:
                    raise closed_error(f"{item!r}, registered with the Poller, is closed")
                events = call_and_serve(zsock, read_events, zsock) & mask
            else:
                events = fd_events.get(fd, 0) & (mask | POLLERR)
            if events:
                ready.append((item, events))
        return ready

    def waits(self) -> list[_Wait]:
        in_trio = trio.lowlevel.in_trio_task()
        waits = self.waits_by_loop.get(in_trio)
        if waits is None:
            waits = self.waits_by_loop[in_trio] = _waits(self.entries, self.fd_masks, in_trio)
        return waits


def _fd_events(masks: dict[int, int]) -> dict[int, int]:
    """fd -> zmq_poll-style events, from one ``select.poll`` with no wait."""
    poller = select.poll()
    for fd, mask in masks.items():
        poller.register(
            fd, (_SELECT_IN if mask & POLLIN else 0) | (_SELECT_OUT if mask & POLLOUT else 0)
        )
    result: dict[int, int] = {}
    for fd, revents in poller.poll(0):
        result[fd] = (
            (POLLIN if revents & _SELECT_IN else 0)
            | (POLLOUT if revents & _SELECT_OUT else 0)
            | (POLLERR if revents & _SELECT_OTHER else 0)
        )
    return result


def _waits(entries: list[_Entry], fd_masks: dict[int, int], in_trio: bool) -> list[_Wait]:
    """One readiness wait per libzmq socket and per raw fd and direction.

    Items registered twice (a trio_zmq.Socket and its zmq_socket; an fd as
    an int and as an object) share one wait: the event loop allows one task
    per fd and direction.
    """
    sockets: dict[int, tuple[zmq.Socket[Any], int]] = {}
    for _, zsock, _, mask in entries:
        if zsock is not None:
            handle = zsock.underlying
            known = sockets.get(handle)
            sockets[handle] = (zsock, mask | (known[1] if known else 0))
    waits: list[_Wait] = [
        functools.partial(_wait_socket, zsock, mask) for zsock, mask in sockets.values()
    ]
    readable = trio.lowlevel.wait_readable if in_trio else anyio.wait_readable
    writable = trio.lowlevel.wait_writable if in_trio else anyio.wait_writable
    for fd, mask in fd_masks.items():
        if mask & POLLIN:
            waits.append(functools.partial(_wait_fd, readable, fd))
        if mask & POLLOUT:
            waits.append(functools.partial(_wait_fd, writable, fd))
    return waits


async def _wait_socket(zsock: zmq.Socket[Any], mask: int) -> None:
    await wait_events(_registry.engine_for(zsock), mask)


async def _wait_fd(wait: Callable[[int], Awaitable[None]], fd: int) -> None:
    try:
        await wait(fd)
    except (trio.ClosedResourceError, anyio.ClosedResourceError) as exc:
        raise closed_error(f"fd {fd}, registered with the Poller, was closed") from exc


async def _wait_until_ready(plan: _Plan) -> list[tuple[Any, int]]:
    """Wait for the first readiness, then probe everything; again if the
    probe finds nothing (another task took what woke us)."""
    waits = plan.waits()
    while True:
        await _first_of(waits)
        ready = plan.probe()
        if ready:
            return ready


async def _first_of(waits: list[_Wait]) -> None:
    """Return once any of ``waits`` has returned; raise the first error.

    With one wait, the caller's task waits.  With several, a task group
    scoped to this call: a child per wait but the first, which the caller's
    task waits itself; the first to return cancels the others (a readiness
    wait consumes nothing, so that loses nothing).  Waits catch their
    errors, so the caller gets the error itself, not an exception group;
    cancellation passes through as the loop's own.
    """
    if not waits:
        await anyio.sleep_forever()  # nothing registered: only a timeout ends it
    if len(waits) == 1:
        await waits[0]()
        return
    failures: list[Exception] = []
    if trio.lowlevel.in_trio_task():
        async with trio.open_nursery() as nursery:
            for wait in waits[1:]:
                nursery.start_soon(_child, wait, nursery.cancel_scope, failures)
            await _child(waits[0], nursery.cancel_scope, failures)
    else:
        async with anyio.create_task_group() as group:
            for wait in waits[1:]:
                group.start_soon(_child, wait, group.cancel_scope, failures)
            await _child(waits[0], group.cancel_scope, failures)
    if failures:
        raise failures[0]


async def _child(wait: _Wait, scope: _backend.Scope, failures: list[Exception]) -> None:
    try:
        await wait()
    except Exception as exc:
        failures.append(exc)
    scope.cancel()
