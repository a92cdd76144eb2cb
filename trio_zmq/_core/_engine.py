"""The probe/wait engine: one per libzmq socket.

Why an engine at all?  ``ZMQ_FD`` is not a readiness fd in the usual sense:

* it is *edge-triggered*: it becomes readable when libzmq has queued a
  command for the socket, and becomes unreadable again as soon as any zmq
  call on the socket (send, recv, getsockopt(EVENTS), bind, connect, ...)
  processes those commands;
* it is shared by both directions: readability of the fd says nothing about
  whether a message can be received or sent; only ``ZMQ_EVENTS`` does.

So the only safe way to sleep on the fd is: read ``ZMQ_EVENTS`` *after the
last zmq call*; if it shows what some waiter needs, serve that waiter now;
only if it shows nothing useful, sleep on the fd.  And since trio allows only
one task per fd in :func:`trio.lowlevel.wait_readable`, exactly one task --
the *watcher* -- sleeps on the fd; every other waiting task *parks*.

Every waiting task is described by a :class:`Waiter` in a FIFO queue per
direction.  The waiter carries an *attempt*: a synchronous callable that
performs the task's zmq operation without blocking (or raises
:class:`zmq.Again`).  Whoever notices that the socket is ready -- the watcher
woken by the fd, or any task that just performed an operation through this
library -- runs the attempts of the waiters at the head of the queues, in
their order, and reschedules each served task with its result.  That is the
"Handle with read/write queues" of the 2011 zeromq-dev thread, with tasks in
place of callbacks.

Because a parked task is resumed with its result through
:func:`trio.lowlevel.reschedule`, cancellation is atomic: either the attempt
ran and the task gets its result, or the task was cancelled while parked and
its attempt never ran.  The watcher is never served by another task (it is
not parked, it is inside ``wait_readable``): when the watcher is at the head
of a ready queue, the server *pokes* it out of its fd wait (see below), and
the watcher serves itself.  If the watcher leaves (its operation is done,
it was cancelled, it raised), it hands the role over to the first waiter in
line.

That is the trio path.  The event loop's primitives come from
:mod:`._backend`; on asyncio, where a cancellation can overtake a wake-up,
no parked task is handed a result: like the watcher, it is woken and serves
itself, and one cancelled before it acts passes the wake-up on (see
:meth:`Engine._leave`).  A ready queue's head is woken together with up to
seven parked waiters behind it (:meth:`Engine._wake_ahead`), so that a queue
of parked tasks does not move one message per scheduler round.

Poking the watcher.  A trio task inside ``wait_readable(fd)`` can be woken
from outside only by a cancel scope around the wait or by
``notify_closing(fd)``.  A cancel scope costs more to enter and leave than
the rest of a park-and-wake cycle, and the watcher sleeps once per wait,
while pokes are rare (another task must find the socket ready for the
watcher's direction first).  So the trio backend pokes with
``notify_closing`` and tells a poke from a close by :attr:`Engine.closed`
(see :mod:`._backend`); the fd stays open and the next ``wait_readable``
registers it anew.  Only a timed fd sleep (the watcher's retry while a head
is stuck, see :meth:`Engine._note_stall`) has a cancel scope, and a poke
cancels that; on asyncio every fd sleep has one.

Each promise a test may want to break is a small named method of
:class:`Engine`.  Seven of them do the engine's work
(:meth:`Engine.after_operation`, :meth:`Engine.after_failed_nowait`,
:meth:`Engine.ready_now`, :meth:`Engine._serve_queue`,
:meth:`Engine._hand_over`, :meth:`Engine._pass_wake_on`,
:meth:`Engine._announce_close`); the eighth, :meth:`Engine._ahead`, is
:meth:`Engine.try_now`'s FIFO rule, a constant ("yes, queue behind them")
kept as a method of its own so that a test can break the rule by
overriding it.  The property suite's broken engines are such subclasses,
made by the tests and installed through
:func:`trio_zmq._core._registry.engine_factory`; nothing in here tests
which engine it is.

Nothing here runs in the background: all the waiting and serving happens in
the tasks of the callers.

Threads.  A libzmq socket is not thread-safe, and the waiters' queues are
plain Python state of one event loop.  While tasks wait on a socket, the
engine remembers their thread (:attr:`Engine.thread`), and an operation
from another thread raises RuntimeError before it touches anything
(:meth:`Engine.check_thread`).  An idle socket may move to another thread
or another ``trio.run`` (libzmq allows a migration with a memory barrier,
which the handover between threads provides).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from threading import get_ident
from typing import Any, Final, NoReturn, Protocol, cast, final

import outcome
import trio
import zmq

from . import _backend
from ._exceptions import closed_error, wrong_thread_error

RECV: Final = 0
SEND: Final = 1
#: The ZMQ_EVENTS bit that makes each direction's queue serviceable.
DIRECTION_FLAGS: Final = (int(zmq.POLLIN), int(zmq.POLLOUT))
#: As the enum member: pyzmq's getsockopt converts an int to one first,
#: which costs more than the libzmq call.
_EVENTS: Final = zmq.SocketOption.EVENTS

#: What Engine.try_now returns when the caller must wait.
NOT_NOW: Any = object()

#: How _serve_queue ended (see serve()).
_DONE: Final = object()
_AGAIN: Final = object()
_HANDED: Final = object()
_AGAIN_LIMIT: Final = 2
_HANDED_OVER: Final = 3
_STALL_BACKOFF_MIN: Final = 0.001
_STALL_BACKOFF_MAX: Final = 0.064

#: How many parked waiters of one queue the anyio path wakes at once.
_WAKE_AHEAD: Final = 8

#: An attempt gets the current ZMQ_EVENTS mask; it either performs its
#: operation without blocking and returns the result, or raises zmq.Again.
Attempt = Callable[[int], Any]


class WaitTag(Protocol):
    """What a wait can be marked with, so that :meth:`Engine.abort` can end
    it (a channel view, whose close() interrupts the waits made through it)."""

    def check(self) -> None:
        """Raise the error that waits marked with this must end with, if
        they must; return otherwise."""


class _Watch:
    """Sentinel value a parked waiter is resumed with to become the watcher."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<take over the fd>"


_WATCH: Final = _Watch()


def read_events(zsock: zmq.Socket[Any]) -> int:
    """ZMQ_EVENTS: which operations would succeed now.  Consumes the fd's edge."""
    return cast(int, zsock.getsockopt(_EVENTS))


def int_option(zsock: zmq.Socket[Any], option: int) -> int:
    return cast(int, zsock.getsockopt(option))


@final
class Waiter:
    """A task waiting for one operation on one socket."""

    __slots__ = (
        "attempt",
        "backend",
        "directions",
        "event",
        "is_probe",
        "queued",
        "result",
        "running",
        "tag",
        "task",
        "woken",
    )

    def __init__(
        self,
        attempt: Attempt,
        directions: tuple[int, ...],
        is_probe: bool,
        backend: _backend.Backend,
        tag: WaitTag | None,
    ) -> None:
        self.attempt = attempt
        self.backend = backend
        #: The queues this waiter stands in (a poll for both directions
        #: stands in both, and is served by whichever becomes ready first).
        self.directions = directions
        #: A probe waiter's attempt calls no zmq function: it only looks at
        #: the events mask, which therefore must be fresh when it runs.
        self.is_probe = is_probe
        #: Whatever the caller marked the wait with (a channel view), for
        #: Engine.abort(); None for most waits.
        self.tag = tag
        #: The trio task (TRIO backend) to reschedule; the event a parked
        #: task sleeps on (ANYIO backend).
        self.task = backend.current_task()
        self.event: Any = None
        #: Set when an ANYIO waiter is woken, cleared when it resumes: still
        #: set when it leaves means it was cancelled before acting on it.
        self.woken = False
        #: True while its task runs engine code (so it cannot be
        #: rescheduled); False while it is parked or sleeping on the fd.
        self.running = True
        #: True while it stands in the queues.
        self.queued = False
        #: Set when it is served while running (a parked waiter gets its
        #: result through reschedule instead), or when its wait is aborted.
        self.result: outcome.Outcome[Any] | None = None


class Engine:
    """Waiting and wake-ups for one libzmq socket.

    Engines are looked up by the socket's underlying handle (see
    :mod:`._registry`), so every wrapper of one libzmq socket shares one.
    Not final: the tests' broken engines are subclasses (see the module
    docstring).
    """

    __slots__ = (
        "closed",
        "fd",
        "fd_flagged",
        "fd_loop",
        "handle",
        "owed",
        "pinned",
        "queues",
        "sleeper",
        "slept",
        "stall_backoff",
        "thread",
        "watch_scope",
        "watcher",
        "zsock",
    )

    def __init__(self, zsock: zmq.Socket[Any]) -> None:
        self.zsock = zsock
        # Record the handle now: pyzmq reports 0 once the socket is closed.
        self.handle: int = zsock.underlying
        self.fd = int_option(zsock, zmq.FD)
        self.closed = False
        #: True while a trio_zmq.Socket owns this engine; unpinned engines
        #: (plain pyzmq sockets) are dropped from the registry when idle.
        self.pinned = False
        self.queues: tuple[deque[Waiter], deque[Waiter]] = (deque(), deque())
        #: The waiter whose task watches the fd (or has been handed that
        #: role and will start watching when it next runs).
        self.watcher: Waiter | None = None
        #: The backend whose sleep_on_fd the watcher is in, while it is.
        self.sleeper: _backend.Backend | None = None
        #: The cancel scope around the watcher's fd wait, when it has one
        #: (a timed sleep, or the anyio path), or the future it sleeps on
        #: (asyncio).
        self.watch_scope: Any = None
        #: The asyncio loop with which the fd stays registered between
        #: waits, if any, and whether its reader found the fd readable with
        #: nobody watching (see _backend._Asyncio).
        self.fd_loop: Any = None
        self.fd_flagged = False
        #: Per direction: did the last wait in it have to sleep (or park)?
        #: See try_now().
        self.slept = [False, False]
        #: The task whose last wait here slept and returned without a
        #: schedule point of its own; see wait().
        self.owed: Any = None
        #: Non-zero while a head is stuck although ZMQ_EVENTS says it may go
        #: on (see _note_stall): the watcher's fd sleep then times out.
        self.stall_backoff = 0.0
        #: The thread of the tasks waiting on this socket (while any do).
        self.thread = get_ident()

    # ------------------------------------------------------------------
    # Operating
    # ------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while any task waits on this socket."""
        return bool(self.queues[RECV] or self.queues[SEND])

    def check_thread(self) -> None:
        """Raise RuntimeError if tasks of another thread wait on this socket."""
        if (self.queues[RECV] or self.queues[SEND]) and get_ident() != self.thread:
            raise wrong_thread_error(self.thread)

    def waiting(self, direction: int) -> int:
        """How many tasks wait in ``direction`` (RECV or SEND)."""
        return len(self.queues[direction])

    def try_now(self, direction: int, attempt: Attempt, will_wait: bool = True) -> Any:
        """Run ``attempt`` unless others wait ahead in ``direction``.

        Returns its result, or :data:`NOT_NOW` if the caller must wait
        (EAGAIN, or a queue in this direction: FIFO).  After a failed
        attempt the caller either waits -- :meth:`wait` serves once it
        stands in the queue, which covers the edge the attempt may have
        eaten -- or calls :meth:`after_operation` itself.

        A caller that will wait on NOT_NOW (``will_wait``) may get it
        without an attempt while the last operation in ``direction`` had to
        sleep: on a socket whose tasks mostly wait, the attempt would
        mostly fail, and a failed attempt (pyzmq raising zmq.Again) costs
        more than the ZMQ_EVENTS read with which :meth:`wait` starts.  That
        read decides as the attempt would have: if the socket is ready after
        all, the caller is served at once, without sleeping.

        Raises:
          ClosedResourceError: the engine is closed.
          RuntimeError: tasks of another thread wait on the socket.
          zmq.ZMQError: what the attempt raised, other than zmq.Again.
        """
        if self.closed:
            raise closed_error()
        # check_thread(), written out: this runs for every operation.
        if (self.queues[RECV] or self.queues[SEND]) and get_ident() != self.thread:
            raise wrong_thread_error(self.thread)
        if (self.queues[direction] and self._ahead(direction)) or (
            will_wait and self.slept[direction]
        ):
            return NOT_NOW
        try:
            result = attempt(0)
        except zmq.Again:
            return NOT_NOW
        except zmq.ZMQError as exc:
            self.after_operation()
            self.reraise(exc)
        if self.queues[RECV] or self.queues[SEND]:  # anyone to serve
            self.after_operation()
        return result

    def reraise(self, exc: zmq.ZMQError) -> NoReturn:
        """Re-raise a pyzmq error as the exception a trio user expects.

        Raises:
          ClosedResourceError: for ENOTSOCK (the pyzmq socket was closed
            directly, behind our back; the engine closes too).
          zmq.ZMQError: ``exc`` itself otherwise.
        """
        if exc.errno == zmq.ENOTSOCK:
            self.close(fd_valid=False)
            raise closed_error() from exc
        raise exc

    def _ahead(self, direction: int) -> bool:
        """Tasks wait in ``direction``: must a newcomer queue behind them?

        Always (FIFO).  A method of its own, called only while someone
        waits, so that a test's engine can break the rule by overriding it.
        """
        return True

    def after_operation(self) -> None:
        """Call after every zmq call this library makes on the socket.

        The call may have consumed the fd's edge, so whoever was waiting for
        it must be served from a fresh ZMQ_EVENTS read instead.
        """
        if self.queues[RECV] or self.queues[SEND]:
            self.serve()

    def after_failed_nowait(self) -> None:
        """Call when a caller's attempt found the socket not ready and the
        caller will not wait (a ``*_nowait`` call, or NOBLOCK).

        The failed zmq call processed the socket's commands, which may have
        consumed the edge that waiters in the other direction sleep on: it
        is :meth:`after_operation` too, named apart so that a test's engine
        can break this case alone.
        """
        self.after_operation()

    def ready_now(self, mask: int) -> int:
        """The events of ``mask`` ready now, from a fresh ZMQ_EVENTS read:
        the probe API's first look, made while nobody waits ahead of the
        caller in its direction.

        If any is ready, the caller returns without waiting, so the waiters
        are served here: the read may have consumed the edge they sleep on.
        If none is, the caller waits, and :meth:`wait` serves.
        """
        ready = read_events(self.zsock) & mask
        if ready:
            self.after_operation()
        return ready

    # ------------------------------------------------------------------
    # Serving
    # ------------------------------------------------------------------

    def serve(self) -> None:
        """Complete every waiter that can proceed now, in FIFO order.

        Returns only after a ZMQ_EVENTS read that was followed by no other
        zmq call, so that sleeping on the fd afterwards cannot miss an edge
        -- or once nobody is left to serve, when nobody will sleep on it.
        """
        zsock = self.zsock
        queues = self.queues
        # Per direction: how often its head failed (zmq.Again) although
        # ZMQ_EVENTS said it could proceed, or _HANDED_OVER once its head was
        # woken to serve itself.  One failure is retried after the next
        # EVENTS read: that read may have processed the very command that
        # made room (an I/O thread can act between the attempt and the
        # read), consuming the fd's edge.  A second failure with the flag
        # still set is a real mismatch (a ROUTER_MANDATORY send to one full
        # pipe while others have room): retrying would spin.
        stalled = [0, 0]
        while True:
            try:
                events = read_events(zsock)
            except zmq.ZMQError:
                if zsock.closed:
                    # Closed behind our back (a plain pyzmq socket): the fd
                    # is gone, so wake everyone without notify_closing.
                    self.close(fd_valid=False)
                    raise closed_error() from None
                raise
            called_zmq = False
            for direction in (RECV, SEND):
                if (
                    events & DIRECTION_FLAGS[direction]
                    and queues[direction]
                    and stalled[direction] < _AGAIN_LIMIT
                ):
                    called, how = self._serve_queue(direction, events)
                    called_zmq = called_zmq or called
                    if how is _AGAIN:
                        stalled[direction] += 1
                    elif how is _HANDED:
                        stalled[direction] = _HANDED_OVER
            if not called_zmq:
                self._note_stall(events, stalled)
                return
            if not (queues[RECV] or queues[SEND]):
                # Nobody left to serve, so nobody will sleep on the fd
                # trusting this read: the next waiter reads EVENTS itself
                # before it sleeps (wait() serves first).
                self.stall_backoff = 0.0
                return

    def _note_stall(self, events: int, stalled: list[int]) -> None:
        """Remember whether a head is stuck while EVENTS says it may go on.

        No edge on the fd may ever announce the end of such a stall (the
        command that makes room can be consumed by our own EVENTS read), so
        the watcher then sleeps on the fd with a timeout and retries, with
        a backoff from 1 ms to 64 ms.  Only ROUTER-like sockets get here.
        """
        stuck = (stalled[RECV] == _AGAIN_LIMIT and events & DIRECTION_FLAGS[RECV]) or (
            stalled[SEND] == _AGAIN_LIMIT and events & DIRECTION_FLAGS[SEND]
        )
        if not stuck:
            self.stall_backoff = 0.0
        elif not self.stall_backoff:
            self.stall_backoff = _STALL_BACKOFF_MIN
            # A watcher asleep without a timeout must come and look.
            self._poke_watcher()

    def _serve_queue(self, direction: int, events: int) -> tuple[bool, object]:
        """Serve one queue from its head; return (called zmq, how it ended):
        _DONE (queue empty or not ready), _AGAIN (the head got zmq.Again) or
        _HANDED (the head must serve itself)."""
        queue = self.queues[direction]
        called_zmq = False
        while queue:
            waiter = queue[0]
            if not waiter.running and (waiter is self.watcher or not waiter.backend.serves_parked):
                # The watcher is not parked, so it cannot be rescheduled;
                # and on asyncio no parked task is handed a result, since a
                # cancellation could still overtake it.  Wake it and let it
                # serve itself (and the rest).
                self._wake(waiter)
                if waiter is not self.watcher:
                    self._wake_ahead(queue)
                return called_zmq, _HANDED
            if waiter.is_probe and called_zmq:
                # An attempt ran since `events` was read, and a probe answers
                # from the mask alone: refresh it.
                events = read_events(self.zsock)
                if not events & DIRECTION_FLAGS[direction]:
                    return True, _DONE
            try:
                result: outcome.Outcome[Any] = outcome.Value(waiter.attempt(events))
            except zmq.Again:
                return True, _AGAIN
            except Exception as exc:
                # The error belongs to the waiter's await, not to us.
                result = outcome.Error(exc)
            called_zmq = called_zmq or not waiter.is_probe
            self._complete(waiter, result)
        return called_zmq, _DONE

    def _dequeue(self, waiter: Waiter) -> None:
        if waiter.queued:
            waiter.queued = False
            for direction in waiter.directions:
                self.queues[direction].remove(waiter)

    def _complete(self, waiter: Waiter, result: outcome.Outcome[Any]) -> None:
        self._dequeue(waiter)
        if waiter.running:
            # Served from its own task (see _serve_queue): no reschedule.
            waiter.result = result
        else:
            waiter.backend.wake(waiter, result)

    def _wake_ahead(self, queue: deque[Waiter]) -> None:
        """Also wake the next few parked waiters behind a woken head.

        A woken task must run before it can take its message and wake the
        next, so waking one at a time moves one message per scheduler round.
        Woken together they resume in the same round; each still acts only
        once it is first in line (serve() stops at the first waiter that is
        not running), so FIFO holds, and one that finds nothing parks again
        in its place.  Bounded, so that a socket with many parked tasks does
        not wake them all for every message.
        """
        for index in range(1, min(len(queue), _WAKE_AHEAD)):
            waiter = queue[index]
            if waiter.running or waiter is self.watcher:
                break
            waiter.backend.wake(waiter, outcome.Value(_backend.WAKE))

    def _wake(self, waiter: Waiter) -> None:
        """Make a waiting task look again (it serves itself when it runs)."""
        if waiter is self.watcher:
            self._poke_watcher()
        else:
            waiter.backend.wake(waiter, outcome.Value(_backend.WAKE))

    def _poke_watcher(self) -> None:
        # No sleeper while the watcher is between fd waits or has been
        # handed the role but not yet run: it serves before it sleeps.
        sleeper = self.sleeper
        if sleeper is not None:
            sleeper.poke(self)

    # ------------------------------------------------------------------
    # Waiting
    # ------------------------------------------------------------------

    async def wait(
        self,
        attempt: Attempt,
        directions: tuple[int, ...],
        backend: _backend.Backend,
        is_probe: bool = False,
        tag: WaitTag | None = None,
    ) -> Any:
        """Wait until ``attempt`` succeeds, then return its result.

        The caller has already executed the backend's cancel point
        (``before_operation``); this method guarantees a schedule point
        (the sleep, or one after the operation if it did not sleep), and the
        cancel rule: it either returns the attempt's result or raises
        the loop's cancellation with the attempt never having succeeded.
        ``tag`` marks the wait for :meth:`abort`.

        Raises:
          ClosedResourceError: if the socket is or gets closed.
          RuntimeError: tasks of another thread wait on the socket.
          Exception: whatever the attempt raised, other than zmq.Again, or
            what :meth:`abort` ended the wait with.
        """
        if self.owed is not None and self.owed is backend.current_task():
            # This task's last wait here ended without the schedule point a
            # completed call has after its operation, and it is about to
            # wait again: have it now, before queueing (nothing has happened
            # yet), so that the tasks that feed this one get to run first.
            self.owed = None
            await backend.after_operation()
        if self.closed:
            raise closed_error()
        self.check_thread()
        if tag is not None:
            tag.check()
        self.thread = get_ident()
        waiter = Waiter(attempt, directions, is_probe, backend, tag)
        for direction in directions:
            self.queues[direction].append(waiter)
        waiter.queued = True
        scheduled = False
        try:
            if self.watcher is None:
                self.watcher = waiter
            while True:
                if self.closed:
                    raise closed_error()
                # A newcomer's failed attempt may have eaten the edge the
                # watcher sleeps on, and a woken or newly appointed watcher
                # must look before it sleeps: serve now that we stand in
                # the queue.  Except a watcher woken by the fd with nobody
                # else waiting: like a plain loop it just tries (see
                # _try_alone).
                if waiter.queued and not (scheduled and self._try_alone(waiter)):
                    self.serve()
                if waiter.result is not None:
                    break
                # Not running from here until we resume: a serving task must
                # wake the watcher (and, on asyncio, anyone), never run its
                # attempt for it: it could be cancelled before it saw the
                # result.
                waiter.running = False
                for direction in directions:
                    self.slept[direction] = True
                try:
                    if waiter is self.watcher:
                        timeout = self.stall_backoff
                        await backend.sleep_on_fd(self, timeout)
                        if timeout and self.stall_backoff:
                            self.stall_backoff = min(2 * timeout, _STALL_BACKOFF_MAX)
                        signal: Any = _backend.WAKE
                    else:
                        signal = await backend.park(waiter, self._abort_fn(waiter))
                        waiter.woken = False
                finally:
                    waiter.running = True
                scheduled = True
                if signal is not _backend.WAKE and signal is not _WATCH:
                    return signal  # served by another task (trio only)
                # Woken to look again, or handed the watcher role.
        finally:
            self._leave(waiter)
        if scheduled:
            # It slept, and that was the call's schedule point.  The one a
            # completed call has after its operation is owed: a task that
            # goes on to wait here again has it first (above), unless an
            # operation on this socket that did not wait gave it already
            # (a reply sent between two receives, say).  A consumer woken
            # for each message would otherwise take one and sleep again
            # before its producers could run; a ping-pong pays nothing.
            self.owed = waiter.task
            return waiter.result.unwrap()
        # Served by the first look: the socket was ready after all.
        for direction in directions:
            self.slept[direction] = False
        await backend.after_operation()
        return waiter.result.unwrap()

    def _try_alone(self, waiter: Waiter) -> bool:
        """Run the attempt of a watcher back from the fd, if it is the only
        waiter; return True unless that failed with zmq.Again.

        The common case of a task that waits: the fd woke it, the attempt
        succeeds, and nobody else waits for the edge it may have consumed
        (the next waiter looks before it sleeps), so no ZMQ_EVENTS read is
        needed.  On zmq.Again the caller serves, which reads it.
        """
        queues = self.queues
        if waiter.is_probe or len(queues[RECV]) + len(queues[SEND]) != 1:
            return False
        try:
            result: outcome.Outcome[Any] = outcome.Value(waiter.attempt(0))
        except zmq.Again:
            return False
        except Exception as exc:
            result = outcome.Error(exc)
        self._complete(waiter, result)
        return True

    def _abort_fn(self, waiter: Waiter) -> Callable[[Any], Any]:
        def abort(_: object) -> trio.lowlevel.Abort:
            self._dequeue(waiter)
            return trio.lowlevel.Abort.SUCCEEDED

        return abort

    def abort(self, tag: WaitTag) -> None:
        """End every wait marked with ``tag`` with the error ``tag.check()``
        raises now.

        Their operations have not happened and will not: each raises at its
        own await.  (How a channel view's close() interrupts the waits made
        through it.)
        """
        for queue in self.queues:
            for waiter in [w for w in queue if w.tag is tag]:
                if not waiter.queued:
                    continue  # a poll waiter met in the other queue already
                self._dequeue(waiter)
                error = outcome.capture(tag.check)
                if waiter.running or waiter is self.watcher or not waiter.backend.serves_parked:
                    # It looks at its result when it next runs.
                    waiter.result = error
                    if not waiter.running:
                        self._wake(waiter)
                else:
                    waiter.backend.wake(waiter, error)

    def _leave(self, waiter: Waiter) -> None:
        """Drop a waiter that stops waiting; pass the fd on if it watched,
        and pass a wake-up on if it was woken but leaves without serving."""
        # Still queued if it was cancelled while watching or while woken,
        # or raised before parking: either way it was never served.
        was_queued = waiter.queued
        self._dequeue(waiter)
        if self.closed:
            if waiter is self.watcher:
                self.watcher = None
            return
        if waiter is self.watcher:
            self.watcher = None
            self._hand_over()
        if waiter.woken and was_queued:
            self._pass_wake_on()

    def _hand_over(self) -> None:
        """The watcher left: the first waiter in line watches the fd now."""
        for queue in self.queues:
            if queue:
                successor = queue[0]
                self.watcher = successor
                successor.backend.wake(successor, outcome.Value(_WATCH))
                return

    def _pass_wake_on(self) -> None:
        """A waiter woken because the socket was ready for it (asyncio) was
        cancelled before it could act: whoever is now first in line must
        look instead, or the readiness is lost."""
        for queue in self.queues:
            if queue and not queue[0].running:
                self._wake(queue[0])

    # ------------------------------------------------------------------
    # Closing
    # ------------------------------------------------------------------

    def close(self, *, fd_valid: bool = True) -> None:
        """Mark closed and wake every waiter with ClosedResourceError.

        Must be called *before* the libzmq socket is closed, while the fd is
        still valid: once closed, the fd number may be reused by anything.
        """
        if self.closed:
            return
        self.closed = True
        if fd_valid:
            self._announce_close()
        else:
            # Closed behind our back: the fd is gone, and the loop cannot
            # know.  Poke the watcher (on trio that is notify_closing on the
            # old fd number, which the loop still has our watcher under).
            self._poke_watcher()
        _backend.forget_fd(self)
        for queue in self.queues:
            while queue:
                waiter = queue.popleft()
                if not waiter.queued:
                    continue  # a poll waiter seen in the other queue already
                waiter.queued = False
                if waiter is self.watcher or waiter.running:
                    # The watcher wakes through notify_closing (or, if it
                    # was only handed the role, sees `closed` when it runs).
                    continue
                waiter.backend.wake(waiter, outcome.Error(closed_error()))

    def _announce_close(self) -> None:
        """Tell the event loop the fd is closing: the watcher wakes with
        ClosedResourceError, as does anything else waiting on the fd."""
        _backend.notify_closing(self.fd)
        # A watcher may sleep on something of its own that the loop does
        # not connect with the fd (asyncio's path: a future).
        self._poke_watcher()
