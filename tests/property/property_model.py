"""Model-based property testing of the engine: programs, their runner, the checks.

Hypothesis generates a *program*: a list of steps such as "start a task that
receives on side B", "the peer sends now, and before anyone runs, probe B",
"cancel the task watching A's fd", "settle".  :func:`run_program` executes it
against two real connected sockets and checks, after every settle and at the
end, the invariants the engine promises:

* nothing lost, duplicated, torn or reordered per sender;
* every operation either completed or raised Cancelled (only if we cancelled
  it) or ClosedResourceError (only if its socket was closed);
* a parked sender is never overtaken by a later sender (FIFO);
* a batch keeps what it took or sent before an error, and a receive view
  keeps what it holds through a cancelled call;
* no lost wake-up: a blocked receiver with a message waiting for it is a bug;
* no hang (every wait is under a liveness bound);
* no waiter left in the engine, and the process's fd count unchanged.

Violations raise :class:`PropertyViolation` (or TimeoutError for a hang), so
the broken-engine tests can tell "the property caught it" from a bug in the
test itself.

The runner is written against anyio's API, so one program runs on every
event loop the library supports (:func:`run_on`): on trio, where the engine
takes its trio-native path; on asyncio, where it takes its anyio path; and on
trio with the engine forced onto its anyio path (``trio-anyio-engine``: the
anyio path's rules under trio's scheduler).  The invariants are the same on
all three; where a loop's scheduling makes the *model* differ (never the
promise), a comment at that spot says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, get_args

import anyio
import anyio.abc
import anyio.lowlevel
import trio
import zmq
from hypothesis import strategies as st

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

import trio_zmq
from trio_zmq._core import _backend
from trio_zmq._core._engine import RECV, SEND, Attempt, read_events
from trio_zmq._socket._port import port_of
from trio_zmq.testing import ChaosSchedule, chaos_mode, sync_pub_sub, unique_endpoint

from tests.helpers import current_task, engine_of, open_fds

Side = Literal["A", "B"]
SIDES: tuple[Side, Side] = ("A", "B")
#: Bound on any single wait in a program (a hang is a failure, not a stall).
LIVENESS = 5.0
#: How long a settle may wait for real I/O (tcp, ipc) before judging.
IO_GRACE = 2.0
#: After a Disconnect: how long the drain waits for a message it counts in
#: flight before it takes the message for dropped and feeds the receiver.
LOSS_GRACE = 0.25
#: How long the driver's own probe-API wait lasts on a socket that is not
#: ready (see Runner._driver_wait).
DRIVER_WAIT = 0.01

Loop = Literal["trio", "asyncio", "trio-anyio-engine"]
#: The event loops (and engine paths) a program runs on; see :func:`run_on`.
LOOPS: tuple[Loop, ...] = ("trio", "asyncio", "trio-anyio-engine")


class PropertyViolation(AssertionError):
    """An invariant of the engine does not hold."""


# ----------------------------------------------------------------------
# Topologies
# ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Topology:
    """Which socket types talk, and which directions carry messages.

    Side A binds, side B connects.
    """

    name: str
    a_type: int
    b_type: int
    a_sends: bool
    b_sends: bool
    #: ROUTER prefixes/strips the routing id of B.
    a_is_router: bool = False
    allow_late_connect: bool = True
    allow_hwm_changes: bool = True
    #: Disconnect and reconnect B: only where A takes the new connection
    #: (a PAIR keeps its stale pipe and refuses it -- libzmq semantics).
    reconnects: bool = False
    #: REQ/REP: A runs an echo server task; B's senders are requesters that
    #: send and then receive their own reply.  The driver never touches
    #: either socket's state machine.
    req_rep: bool = False

    def can_send(self, side: Side) -> bool:
        return self.a_sends if side == "A" else self.b_sends

    def can_recv(self, side: Side) -> bool:
        return self.can_send(other(side))


TOPOLOGIES = {
    "PAIR": Topology("PAIR", zmq.PAIR, zmq.PAIR, True, True),
    "PUSH_PULL": Topology("PUSH_PULL", zmq.PULL, zmq.PUSH, False, True, reconnects=True),
    "DEALER_ROUTER": Topology(
        "DEALER_ROUTER",
        zmq.ROUTER,
        zmq.DEALER,
        True,
        True,
        a_is_router=True,
        allow_late_connect=False,
    ),
    # A REP drops a reply its peer's full pipe cannot take, so REQ/REP keeps
    # libzmq's default high-water marks.
    "REQ_REP": Topology(
        "REQ_REP", zmq.REP, zmq.REQ, False, True, req_rep=True, allow_hwm_changes=False
    ),
    "PUB_SUB": Topology(
        "PUB_SUB",
        zmq.PUB,
        zmq.SUB,
        True,
        False,
        allow_late_connect=False,
        allow_hwm_changes=False,
    ),
}


def other(side: Side) -> Side:
    return "B" if side == "A" else "A"


# ----------------------------------------------------------------------
# Steps (their reprs are what a failing example prints)
# ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StartRecv:
    """Start ``tasks`` tasks that each receive one message on ``side``."""

    side: Side
    tasks: int = 1


@dataclasses.dataclass(frozen=True)
class StartSend:
    """Start ``tasks`` tasks that each send ``count`` messages in a row from
    ``side``; ``batched``: with ``send_batch`` (each call sends a prefix of
    the rest; a REQ's stops at the first, with EFSM on the second)."""

    side: Side
    count: int = 1
    tasks: int = 1
    batched: bool = False


@dataclasses.dataclass(frozen=True)
class StartWaitReadable:
    """Start a task that waits until ``side`` is readable (then checks it is)."""

    side: Side


@dataclasses.dataclass(frozen=True)
class StartViewRecv:
    """Start a task that takes one batch of up to ``max_items`` from
    ``side``'s receive view, cancelled after ``ticks`` scheduler ticks if
    that is not None (see :class:`StartCancelledAfter`).

    The view's deserializer fails on every odd-numbered message (see
    :class:`Poison`), so a batch can end early, holding the error and the
    messages it took behind it for the next call on the view.
    """

    side: Side
    max_items: int
    ticks: int | None = None


#: What the driver can do at once on a socket after its own send or
#: receive: a synchronous library call, or a probe-API wait (see
#: :meth:`Runner._then`).
Then = Literal[
    "nothing",
    "probe",
    "events",
    "recv_nowait",
    "send_nowait",
    "view_recv_nowait",
    "view_send_nowait",
    "wait_readable",
    "wait_writable",
]
THENS: tuple[Then, ...] = get_args(Then)


@dataclasses.dataclass(frozen=True)
class PeerSendsThen:
    """The driver sends one message from ``side`` without yielding, then at
    once -- before any other task runs -- does ``then`` on the receiving side
    through the library (each such call may eat the fd's edge)."""

    side: Side
    then: Then = "nothing"
    #: How many messages the driver sends in a row first.
    n: int = 1


@dataclasses.dataclass(frozen=True)
class DriverRecvThen:
    """The driver receives one message on ``side`` without yielding, then at
    once does ``then`` on the sending side (whose parked senders the freed
    room may now let through)."""

    side: Side
    then: Then = "nothing"
    #: How many messages the driver receives in a row first.
    n: int = 1


@dataclasses.dataclass(frozen=True)
class StartCancelledAfter:
    """Start a receiver (``count`` 0) or a sender of ``count`` messages on
    ``side``, let the scheduler run ``ticks`` times (see :class:`Tick`),
    then cancel it: a cancellation at an arbitrary point of the operation."""

    side: Side
    count: int
    ticks: int


@dataclasses.dataclass(frozen=True)
class Cancel:
    """Cancel one of the pending tasks (the ``pick``-th, modulo how many)."""

    pick: int


@dataclasses.dataclass(frozen=True)
class CancelWatcher:
    """Cancel the task that currently watches ``side``'s fd, if one of ours."""

    side: Side


@dataclasses.dataclass(frozen=True)
class SpuriousWakeup:
    """Wake ``side``'s fd watcher for no reason."""

    side: Side


@dataclasses.dataclass(frozen=True)
class LibraryOp:
    """The driver does a library call on ``side`` (see :meth:`Runner._then`)."""

    side: Side
    op: Then | Literal["subscribe"]


@dataclasses.dataclass(frozen=True)
class SetHWM:
    side: Side
    hwm: int


@dataclasses.dataclass(frozen=True)
class Tick:
    """The driver yields once: some tasks run one step.

    A tick is anyio's checkpoint.  On trio the tasks runnable then run one
    step each (one batch, in random order); on asyncio the callbacks ready
    then run (one loop iteration, in FIFO order).  Which tasks that reaches
    differs between the loops, which is fine: ticks only place the driver's
    next step (a cancellation, a send) at some point in the others' work.
    """


@dataclasses.dataclass(frozen=True)
class Settle:
    """Let everything run until blocked, then check for lost wake-ups."""


@dataclasses.dataclass(frozen=True)
class Connect:
    """Connect B to A (if the program started unconnected)."""


@dataclasses.dataclass(frozen=True)
class Disconnect:
    """Disconnect B from A (a later Connect, or the drain, reconnects it).

    Messages in the torn-down pipes may be dropped, as libzmq documents, so
    from then on the checks no longer demand that every message arrives
    (order, duplicates, tearing, cancellation and hangs are still checked).
    """


@dataclasses.dataclass(frozen=True)
class Close:
    """Close ``side``'s socket while tasks may be blocked on it."""

    side: Side


Step = (
    StartRecv
    | StartSend
    | StartViewRecv
    | StartWaitReadable
    | PeerSendsThen
    | DriverRecvThen
    | StartCancelledAfter
    | Cancel
    | CancelWatcher
    | SpuriousWakeup
    | LibraryOp
    | SetHWM
    | Tick
    | Settle
    | Connect
    | Disconnect
    | Close
)


@dataclasses.dataclass(frozen=True)
class Program:
    topology: str
    transport: str
    #: "connected": B connects before the program; "late": a Connect step
    #: (or the final drain) connects it; with "bind_late" B connects before A
    #: binds.
    start: Literal["connected", "connect_late", "bind_late"]
    hwm: tuple[int, int]
    steps: tuple[Step, ...]


sides = st.sampled_from(SIDES)


def _step_kinds(allow_close: bool) -> dict[str, st.SearchStrategy[Step]]:
    kinds: dict[str, st.SearchStrategy[Step]] = {
        "recv": st.builds(StartRecv, sides, st.integers(1, 3)),
        "send": st.builds(StartSend, sides, st.integers(1, 3), st.integers(1, 3), st.booleans()),
        "view": st.builds(StartViewRecv, sides, st.integers(1, 4), st.none() | st.integers(0, 2)),
        "wait": st.builds(StartWaitReadable, sides),
        "peer": st.builds(PeerSendsThen, sides, st.sampled_from(THENS), st.integers(1, 3)),
        "driver_recv": st.builds(DriverRecvThen, sides, st.sampled_from(THENS), st.integers(1, 3)),
        "cancel_after": st.builds(StartCancelledAfter, sides, st.integers(0, 2), st.integers(0, 3)),
        "cancel": st.builds(Cancel, st.integers(0, 7)),
        "cancel_watcher": st.builds(CancelWatcher, sides),
        "spurious": st.builds(SpuriousWakeup, sides),
        "op": st.builds(LibraryOp, sides, st.sampled_from([*THENS[1:], "subscribe"])),
        "hwm": st.builds(SetHWM, sides, st.sampled_from([1, 2, 1000])),
        "tick": st.just(Tick()),
        "settle": st.just(Settle()),
        "connect": st.just(Connect()),
        "disconnect": st.just(Disconnect()),
    }
    if allow_close:
        kinds["close"] = st.builds(Close, sides)
    return kinds


@st.composite
def _step_lists(draw: st.DrawFn, allow_close: bool, max_steps: int) -> tuple[Step, ...]:
    # Swarm testing: each program uses a random subset of the step kinds,
    # which makes focused programs (say, only sends, settles and receives
    # from the driver) far likelier than a uniform mix would.
    kinds = _step_kinds(allow_close)
    enabled = draw(st.sets(st.sampled_from(sorted(kinds)), min_size=1), label="step kinds")
    chosen = st.one_of([kinds[name] for name in sorted(enabled)])
    return tuple(draw(st.lists(chosen, min_size=6, max_size=max_steps)))


def programs(
    topologies: Sequence[str] = tuple(TOPOLOGIES),
    transports: Sequence[str] = ("inproc", "ipc", "tcp"),
    *,
    max_steps: int = 40,
    allow_close: bool = True,
) -> st.SearchStrategy[Program]:
    return st.builds(
        Program,
        topology=st.sampled_from(list(topologies)),
        transport=st.sampled_from(list(transports)),
        start=st.sampled_from(["connected", "connect_late", "bind_late"]),
        # Mostly tiny high-water marks: they are what makes senders park.
        hwm=st.tuples(st.sampled_from([1, 1, 2, 1000]), st.sampled_from([1, 1, 2, 1000])),
        steps=_step_lists(allow_close, max_steps),
    )


# ----------------------------------------------------------------------
# Running a program
# ----------------------------------------------------------------------

Message = tuple[str, int]  # (sender label, sequence number)


def encode(sender: str, seq: int) -> list[bytes]:
    # Three frames, the third derived from the first two: a torn or mixed
    # message cannot pass decode().
    return [sender.encode(), b"%d" % seq, b"%s/%d" % (sender.encode(), seq) * 3]


def decode(frames: list[bytes]) -> Message:
    if len(frames) != 3:
        raise PropertyViolation(f"torn message: {frames!r}")
    sender, seq_text, payload = frames
    seq = int(seq_text)
    if payload != b"%s/%d" % (sender, seq) * 3:
        raise PropertyViolation(f"frames of different messages mixed: {frames!r}")
    return sender.decode(), seq


class Poison(Exception):
    """What a receive view's deserializer raises for an odd-numbered message:
    the message is consumed, and the error is what its caller gets."""

    def __init__(self, message: Message) -> None:
        super().__init__(message)
        self.message = message


@dataclasses.dataclass(eq=False)
class TaskRecord:
    label: str
    side: Side
    kind: Literal["recv", "send", "wait", "view"]
    scope: anyio.CancelScope
    #: As the engine records it in ``Waiter.task`` (see :func:`current_task`).
    task: object = None
    done: bool = False
    outcome: str = "pending"
    #: For senders: the message it is currently sending.
    current: Message | None = None
    #: For REQ requesters: "recv" once the request is out (set when libzmq
    #: takes it).
    phase: Literal["send", "recv"] = "send"
    #: For REQ requesters: requests unanswered when libzmq last refused
    #: this task's send with EFSM (judged then, not when the task resumes).
    efsm_unanswered: int = 0
    #: For senders: with send_batch.
    batched: bool = False

    @property
    def direction(self) -> int:
        """The engine queue this task waits in."""
        return SEND if self.kind == "send" and self.phase == "send" else RECV


class Runner:
    def __init__(self, program: Program, ctx: trio_zmq.Context, ipc_dir: str) -> None:
        self.program = program
        self.topology = TOPOLOGIES[program.topology]
        self.ctx = ctx
        self.ipc_dir = ipc_dir
        self.socks: dict[Side, trio_zmq.Socket] = {}
        #: Each side's receive view, made when first used (see view()).
        self.views: dict[Side, trio_zmq.MessageReceiveChannel[Message]] = {}
        self.closed: set[Side] = set()
        self.connected = False
        self.address = ""
        self.tasks: list[TaskRecord] = []
        self.counter = 0
        #: Successfully sent / received messages, per *receiving* side.
        self.sent: dict[Side, list[Message]] = {"A": [], "B": []}
        #: In the order libzmq handed them over...
        self.taken: dict[Side, list[Message]] = {"A": [], "B": []}
        #: ...and as the callers got them (a message taken but not delivered
        #: was lost between the socket and the caller, e.g. to a Cancelled).
        self.delivered: dict[Side, list[Message]] = {"A": [], "B": []}
        #: Messages that came through a receive view: taken from the socket
        #: inside a batch, they are noted when a caller gets them, so their
        #: order is not checked (a held message comes after later ones).
        self.via_view: set[Message] = set()
        self.cancelled_sends: set[Message] = set()
        #: (earlier, later): `earlier` was parked when `later`'s sender began.
        self.fifo: list[tuple[Message, Message]] = []
        #: (earlier, later) receiver labels, likewise; and when each took.
        self.recv_fifo: list[tuple[str, str]] = []
        self.take_order: dict[str, int] = {}
        self.lossy = False
        self.task_group: anyio.abc.TaskGroup | None = None
        self.bind_pending = False
        #: Set once B has connected (even to an endpoint not bound yet).
        self.hwm_frozen = False

    # --- set-up ---------------------------------------------------------

    def _frames_to(self, side: Side, message: Message) -> list[bytes]:
        frames = encode(*message)
        if side == "B" and self.topology.a_is_router:
            return [b"B", *frames]
        return frames

    def _from_frames(self, side: Side, frames: list[bytes]) -> Message:
        if side == "A" and self.topology.a_is_router:
            if not frames or frames[0] != b"B":
                raise PropertyViolation(f"bad routing frame: {frames!r}")
            frames = frames[1:]
        return decode(frames)

    async def setup(self) -> None:
        program = self.program
        a = self.ctx.socket(self.topology.a_type)
        b = self.ctx.socket(self.topology.b_type)
        self.socks = {"A": a, "B": b}
        if self.topology.a_is_router:
            b.setsockopt(zmq.ROUTING_ID, b"B")
            # Block (EAGAIN) rather than drop when B's pipe is full.
            a.setsockopt(zmq.ROUTER_MANDATORY, 1)
        if self.topology.b_type == zmq.SUB:
            b.subscribe(b"")
        if self.topology.allow_hwm_changes:
            a.setsockopt(zmq.SNDHWM, program.hwm[0])
            a.setsockopt(zmq.RCVHWM, program.hwm[0])
            b.setsockopt(zmq.SNDHWM, program.hwm[1])
            b.setsockopt(zmq.RCVHWM, program.hwm[1])
        start = program.start if self.topology.allow_late_connect else "connected"
        endpoint = unique_endpoint(program.transport, self.ipc_dir)
        if start == "bind_late" and program.transport != "tcp":
            # B connects first, A binds later (in Connect or the drain).
            self.address = endpoint
            b.connect(self.address)
            self.hwm_frozen = True
            self.bind_pending = True
        else:
            self.address = self._bind(a, endpoint)
            if start == "connected":
                await self.connect()
        if self.topology.a_is_router and self.connected:
            # Teach the ROUTER B's routing id, so its sends are routable.
            await b.send_multipart(encode("hello", 0))
            with anyio.fail_after(LIVENESS):
                self._from_frames("A", await a.recv_multipart())

    def _bind(self, sock: trio_zmq.Socket, endpoint: str) -> str:
        if endpoint == "tcp://127.0.0.1":
            return f"{endpoint}:{sock.bind_to_random_port(endpoint)}"
        sock.bind(endpoint)
        return endpoint

    async def connect(self) -> None:
        if self.connected or self.closed:
            return
        if self.bind_pending:
            self.socks["A"].bind(self.address)
            self.bind_pending = False
        else:
            self.socks["B"].connect(self.address)
        self.connected = True
        self.hwm_frozen = True
        if self.topology.b_type == zmq.SUB:
            with anyio.fail_after(LIVENESS):
                await sync_pub_sub(self.socks["A"], self.socks["B"])

    # --- tasks ------------------------------------------------------------

    def _spawn(
        self,
        side: Side,
        kind: Literal["recv", "send", "wait", "view"],
        count: int = 1,
        batched: bool = False,
    ) -> TaskRecord:
        """Start a task of ``kind``; ``count``: how many messages a sender
        sends (with send_batch if ``batched``), or a view receiver's
        ``max_items``."""
        assert self.task_group is not None
        self.counter += 1
        record = TaskRecord(f"{kind}{self.counter}{side}", side, kind, anyio.CancelScope())
        record.batched = batched
        self.tasks.append(record)
        if kind == "send":
            # FIFO: every sender parked now must go out before this one.
            for earlier in self.pending("send", side):
                if earlier.current is not None and self._is_parked(earlier):
                    self.fifo.append((earlier.current, (record.label, 0)))
        elif kind == "recv":
            # FIFO: every receiver parked now must be served before this one.
            for earlier in self.pending("recv", side):
                if self._is_parked(earlier):
                    self.recv_fifo.append((earlier.label, record.label))
        self.task_group.start_soon(self._task_body, record, count)
        return record

    def _is_parked(self, record: TaskRecord) -> bool:
        engine = engine_of(self.socks[record.side])
        return any(w.task is record.task for w in engine.queues[record.direction])

    def pending(self, kind: str | None = None, side: Side | None = None) -> list[TaskRecord]:
        return [
            t
            for t in self.tasks
            if not t.done and (kind is None or t.kind == kind) and (side is None or t.side == side)
        ]

    async def _task_body(self, record: TaskRecord, count: int) -> None:
        record.task = current_task()
        sock = self.socks[record.side]
        try:
            with record.scope:
                if record.kind == "recv":
                    # recv_multipart() with an attempt that also notes *when*
                    # libzmq handed the message over: tasks served together
                    # may resume in any order, the socket's order is this.
                    frames = await port_of(sock).operate(RECV, self._recording_attempt(record), 0)
                    self.delivered[record.side].append(self._from_frames(record.side, frames))
                elif record.kind == "wait":
                    await sock.wait_readable()
                    # Readable means a message is there: take it (nowait,
                    # no checkpoint in between, so nobody can steal it).
                    try:
                        frames = sock.recv_multipart_nowait()
                    except anyio.WouldBlock:
                        # Others ahead of us may have taken it: only fine if
                        # some receiver was queued before us.
                        record.outcome = "woken, message taken by an earlier receiver"
                    else:
                        self._received(record.side, frames)
                elif record.kind == "view":
                    try:
                        items = await self.view(record.side).receive_batch(count)
                    except Poison as poison:
                        items = [poison.message]
                    for message in items:
                        self._view_received(record.side, message)
                else:
                    dest = other(record.side)
                    seq = 0
                    while seq < count:
                        record.current = (record.label, seq)
                        # send_multipart() or send_batch(), noting each send
                        # when libzmq takes it (others may run before this
                        # task resumes).
                        if record.batched:
                            attempt = self._recording_batch(record, dest, range(seq, count))
                        else:
                            attempt = self._recording_send(record, dest)
                        seq += await port_of(sock).operate(SEND, attempt, 0)
                        if self.topology.req_rep:
                            await self._await_reply(record, sock)
                        record.current = None
            if record.scope.cancelled_caught:
                record.outcome = "cancelled"
                if record.current is not None:
                    if record.current in self.sent[other(record.side)]:
                        raise PropertyViolation(
                            f"{record.label}: {record.current} was sent, yet Cancelled was raised"
                        )
                    self.cancelled_sends.add(record.current)
            elif record.outcome == "pending":
                record.outcome = "ok"
        except zmq.ZMQError as exc:
            if self._req_busy(exc, record):
                # libzmq's REQ refuses (EFSM, not EAGAIN) a second request
                # while one is unanswered: pyzmq's behaviour, and ours.
                record.outcome = "efsm"
                if record.current is not None:
                    self.cancelled_sends.add(record.current)
                return
            if exc.errno == zmq.EFSM and self.topology.req_rep:
                raise PropertyViolation(
                    f"{record.label}: EFSM with no request unanswered (a batch that"
                    " sent one, then met EFSM on the next, must report the one)"
                ) from None
            # A ROUTER (mandatory routing) whose peer has closed cannot send.
            if exc.errno != zmq.EHOSTUNREACH or other(record.side) not in self.closed:
                raise
            record.outcome = "closed"
            if record.current is not None:
                self.cancelled_sends.add(record.current)
        except anyio.ClosedResourceError:
            if record.side not in self.closed:
                raise PropertyViolation(
                    f"{record.label}: ClosedResourceError on an open socket"
                ) from None
            record.outcome = "closed"
            if record.current is not None:
                self.cancelled_sends.add(record.current)
        finally:
            record.done = True

    async def _await_reply(self, record: TaskRecord, sock: trio_zmq.Socket) -> None:
        """A REQ requester's second half: its own reply, nobody else's."""
        assert record.current is not None
        request, record.current = record.current, None
        record.phase = "recv"
        frames = await port_of(sock).operate(RECV, self._recording_attempt(record), 0)
        reply = self._from_frames(record.side, frames)
        self.delivered[record.side].append(reply)
        if reply != request:
            raise PropertyViolation(f"{record.label} sent {request} but got the reply to {reply}")
        record.phase = "send"

    async def echo_server(self) -> None:
        """REQ/REP: side A answers every request with the request itself.

        Every other request is taken with recv_batch, whose second receive
        meets EFSM (a REP must reply first): the batch must return the one
        request it took.
        """
        rep = self.socks["A"]
        try:
            for count in itertools.count():
                if count % 2:
                    frames = await rep.recv_multipart()
                else:
                    try:
                        batch = await rep.recv_batch(3)
                    except zmq.ZMQError as exc:
                        # Its first receive cannot fail: we always reply.
                        raise PropertyViolation(
                            f"echo server: recv_batch raised {exc!r} after taking a request"
                        ) from None
                    if len(batch) != 1:
                        raise PropertyViolation(f"echo server: a REP took {batch} at once")
                    frames = batch[0]
                self._received("A", frames)
                reply = self._from_frames("A", frames)
                plain = port_of(rep).send_multipart_attempt(frames, 0, True, False)

                def attempt(events: int, plain: Attempt = plain, reply: Message = reply) -> None:
                    # Noted when libzmq takes it, not when we resume.
                    plain(events)
                    self.sent["B"].append(reply)

                await port_of(rep).operate(SEND, attempt, 0)
        except anyio.ClosedResourceError:
            if "A" not in self.closed:
                raise PropertyViolation(
                    "echo server: ClosedResourceError on an open socket"
                ) from None

    def _unanswered(self) -> int:
        """REQ/REP: requests whose reply no requester has taken yet."""
        return len(self.sent["A"]) - len(self.taken["B"])

    def _req_busy(self, exc: zmq.ZMQError, record: TaskRecord) -> bool:
        """Was this EFSM a REQ send while an earlier request was unanswered?

        Judged from when libzmq refused the send (the attempt notes it), not
        from now: a parked requester refused by another task's serve resumes
        later, when the reply it was refused for may well have come back.
        """
        return (
            self.topology.req_rep
            and exc.errno == zmq.EFSM
            and record.phase == "send"
            and record.efsm_unanswered > 0
        )

    def _orphan_replies(self) -> int:
        """REQ/REP: replies on their way to B that no requester waits for
        (their requester was cancelled after sending)."""
        waiting = sum(1 for t in self.pending(side="B") if t.phase == "recv")
        return self.in_flight("B") - waiting

    def _recording_send(self, record: TaskRecord, dest: Side) -> Attempt:
        """send_multipart() of the sender's current message."""
        assert record.current is not None
        message = record.current
        plain = port_of(self.socks[record.side]).send_multipart_attempt(
            self._frames_to(dest, message), 0, True, False
        )
        return self._noting(record, dest, plain, lambda _result: [message])

    def _recording_batch(self, record: TaskRecord, dest: Side, seqs: range) -> Attempt:
        """send_batch() of the sender's messages numbered ``seqs``."""
        messages = [(record.label, seq) for seq in seqs]
        port = port_of(self.socks[record.side])
        checked = port.check_batch([self._frames_to(dest, message) for message in messages])
        plain = port.send_batch_attempt(checked, True)
        return self._noting(record, dest, plain, lambda sent: messages[:sent])

    def _noting(
        self,
        record: TaskRecord,
        dest: Side,
        plain: Attempt,
        went_out: Callable[[Any], list[Message]],
    ) -> Attempt:
        """``plain``, a send attempt, noting what ``went_out`` of its result
        when libzmq takes it; the attempt returns how many messages that is."""

        def attempt(events: int) -> int:
            try:
                result = plain(events)
            except zmq.ZMQError as exc:
                if exc.errno == zmq.EFSM:
                    record.efsm_unanswered = self._unanswered()
                raise
            messages = went_out(result)
            self.sent[dest].extend(messages)
            if self.topology.req_rep:
                if len(messages) != 1:
                    raise PropertyViolation(f"{record.label}: a REQ sent {messages} at once")
                # The request is out: its requester waits for the reply from
                # now on, not from when it resumes (a reply that comes back
                # before is not an orphan for the drain to take).
                record.phase = "recv"
            return len(messages)

        return attempt

    def _recording_attempt(self, record: TaskRecord) -> Attempt:
        side = record.side
        plain = port_of(self.socks[side]).recv_multipart_attempt(0, True, False)

        def attempt(events: int) -> list[bytes]:
            frames: list[bytes] = plain(events)
            self.take_order[record.label] = len(self.taken[side])
            self.taken[side].append(self._from_frames(side, frames))
            return frames

        return attempt

    def _received(self, side: Side, frames: list[bytes]) -> None:
        """A message taken and delivered in one synchronous step."""
        message = self._from_frames(side, frames)
        self.taken[side].append(message)
        self.delivered[side].append(message)

    # --- receive views ------------------------------------------------------

    def view(self, side: Side) -> trio_zmq.MessageReceiveChannel[Message]:
        """``side``'s receive view; its deserializer raises :class:`Poison`
        for every odd-numbered message."""
        if side not in self.views:

            def deserialize(frames: list[bytes]) -> Message:
                message = self._from_frames(side, frames)
                if message[1] % 2:
                    raise Poison(message)
                return message

            self.views[side] = self.socks[side].receive_channel(deserialize)
        return self.views[side]

    def held(self, side: Side) -> int:
        """How many messages ``side``'s view holds (behind a deserializer
        failure in a batch, the failed one included while its error is)."""
        view = self.views.get(side)
        return 0 if view is None else len(view._held)

    def _view_received(self, side: Side, message: Message) -> None:
        """A caller got ``message`` from a view (as an item, or as Poison)."""
        self.taken[side].append(message)
        self.delivered[side].append(message)
        self.via_view.add(message)

    def _view_recv_nowait(self, side: Side) -> bool:
        """The driver's receive_nowait() on the view; False if it would block."""
        from_socket = not self.held(side)
        ahead = self._queued(side, RECV)
        try:
            message = self.view(side).receive_nowait()
        except anyio.WouldBlock:
            return False
        except Poison as poison:
            message = poison.message
        self._view_received(side, message)
        if from_socket:
            self._not_overtaken(side, "receive_nowait", ahead)
        return True

    # --- steps --------------------------------------------------------------

    def _usable(self, side: Side) -> bool:
        return side not in self.closed

    def _driver_may_touch(self) -> bool:
        """The driver's own sends and receives would break REQ/REP's
        alternation (that would be the test's bug, not the engine's)."""
        return not self.topology.req_rep

    async def run_step(self, step: Step) -> None:
        match step:
            case StartRecv(side, tasks) if (
                self._usable(side) and self.topology.can_recv(side) and self._driver_may_touch()
            ):
                for _ in range(tasks):
                    self._spawn(side, "recv")
            case StartWaitReadable(side) if (
                self._usable(side) and self.topology.can_recv(side) and self._driver_may_touch()
            ):
                self._spawn(side, "wait")
            case StartSend(side, count, tasks, batched) if self._usable(
                side
            ) and self.topology.can_send(side):
                for _ in range(tasks):
                    self._spawn(side, "send", count, batched)
            case StartViewRecv(side, max_items, ticks) if (
                self._usable(side) and self.topology.can_recv(side) and self._driver_may_touch()
            ):
                record = self._spawn(side, "view", max_items)
                if ticks is not None:
                    await self._cancel_after(record, ticks)
            case PeerSendsThen(side, then, n) if (
                self._usable(side)
                and self._usable(other(side))
                and self.topology.can_send(side)
                and self._driver_may_touch()
            ):
                for _ in range(n):
                    self._driver_send(side)
                await self._then(other(side), then)
            case DriverRecvThen(side, then, n) if (
                self._usable(side)
                and self._usable(other(side))
                and self.topology.can_recv(side)
                and self._driver_may_touch()
            ):
                for _ in range(n):
                    self._library_op(side, "recv_nowait")
                await self._then(other(side), then)
            case StartCancelledAfter(side, count, ticks) if (
                self._usable(side)
                and (self.topology.can_send(side) if count else self.topology.can_recv(side))
                and (count > 0 or self._driver_may_touch())
            ):
                record = self._spawn(side, "send" if count else "recv", count)
                await self._cancel_after(record, ticks)
            case Cancel(pick):
                pending = self.pending()
                if pending:
                    pending[pick % len(pending)].scope.cancel()
            case CancelWatcher(side) if self._usable(side):
                watcher = engine_of(self.socks[side]).watcher
                for record in self.pending():
                    if watcher is not None and record.task is watcher.task:
                        record.scope.cancel()
            case SpuriousWakeup(side) if self._usable(side):
                engine_of(self.socks[side])._poke_watcher()
            case LibraryOp(side, op) if self._usable(side):
                await self._then(side, op)
            case SetHWM(side, hwm) if (
                # libzmq 4.3 applies a new HWM to live pipes but not to the
                # peer's low-water mark: the pipe can stall for good (seen
                # with plain pyzmq).  So HWMs change only before connecting.
                self._usable(side) and self.topology.allow_hwm_changes and not self.hwm_frozen
            ):
                self.socks[side].setsockopt(zmq.SNDHWM, hwm)
                self.socks[side].setsockopt(zmq.RCVHWM, hwm)
            case Tick():
                await anyio.lowlevel.checkpoint()
            case Settle():
                await self.settle()
            case Connect():
                await self.connect()
            case Disconnect() if self.connected and not self.closed and self.topology.reconnects:
                self.socks["B"].disconnect(self.address)
                self.connected = False
                self.lossy = True
            case Close(side) if self._usable(side):
                self.closed.add(side)
                self.lossy = True
                self.socks[side].close(linger=0)
            case _:
                pass  # not applicable in this state: skipped

    async def _cancel_after(self, record: TaskRecord, ticks: int) -> None:
        for _ in range(ticks):
            await anyio.lowlevel.checkpoint()
        record.scope.cancel()

    def _driver_send(self, side: Side, via_view: bool = False) -> None:
        """The driver's send_multipart_nowait(), or send_nowait() on a send
        view of ``side``."""
        dest = other(side)
        self.counter += 1
        message = (f"drv{self.counter}{side}", 0)
        frames = self._frames_to(dest, message)
        ahead = self._queued(side, SEND)
        try:
            if via_view:
                self.socks[side].send_channel().send_nowait(frames)
            else:
                self.socks[side].send_multipart_nowait(frames)
        except anyio.WouldBlock:
            return
        self.sent[dest].append(message)
        self._not_overtaken(side, "send_nowait", ahead)

    def _queued(self, side: Side, direction: int) -> list[TaskRecord]:
        """Our tasks standing in ``side``'s queue for ``direction`` now."""
        return [
            t for t in self.pending(side=side) if t.direction == direction and self._is_parked(t)
        ]

    def _not_overtaken(self, side: Side, call: str, ahead: list[TaskRecord]) -> None:
        """A ``*_nowait`` call that succeeded must have found nobody waiting
        ahead of it in its direction (it raises WouldBlock instead)."""
        if ahead:
            raise PropertyViolation(
                f"the driver's {call} on {side} overtook parked "
                + ", ".join(t.label for t in ahead)
            )

    def _recv_nowait(self, side: Side) -> bool:
        """The driver's recv_multipart_nowait(); False if it would block."""
        ahead = self._queued(side, RECV)
        try:
            frames = self.socks[side].recv_multipart_nowait()
        except anyio.WouldBlock:
            return False
        self._received(side, frames)
        self._not_overtaken(side, "recv_nowait", ahead)
        return True

    async def _then(self, side: Side, op: str) -> None:
        """The driver's call ``op`` on ``side``: a probe-API wait (see
        :meth:`_driver_wait`), or a synchronous call (see :meth:`_library_op`)."""
        if op in ("wait_readable", "wait_writable"):
            await self._driver_wait(side, op)
        elif op != "nothing":
            self._library_op(side, op)

    async def _driver_wait(self, side: Side, op: str) -> None:
        """The driver's own wait_readable() or wait_writable() on ``side``.

        On a socket that is ready it returns at once, from one ZMQ_EVENTS
        read, which may eat the edge that waiters in the other direction
        sleep on (on trio before any other task runs; on the anyio path the
        call's cancel point lets the loop run first).  On one that is not,
        the driver gives up after a moment, which lets the tasks run.
        """
        direction = RECV if op == "wait_readable" else SEND
        if not (
            self.topology.can_recv(side) if direction == RECV else self.topology.can_send(side)
        ):
            return  # a SUB is never writable, a PUB never readable
        with anyio.move_on_after(DRIVER_WAIT):
            await (
                self.socks[side].wait_readable()
                if direction == RECV
                else self.socks[side].wait_writable()
            )

    def _library_op(self, side: Side, op: str) -> None:
        """The driver's synchronous library call ``op`` on ``side``."""
        sock = self.socks[side]
        touches = op.removeprefix("view_") in ("recv_nowait", "send_nowait")
        if op == "probe":
            trio_zmq.probe(sock, zmq.POLLIN | zmq.POLLOUT)
        elif op == "events":
            sock.get(zmq.EVENTS)
        elif touches and not self._driver_may_touch():
            sock.setsockopt(zmq.LINGER, 0)  # a library call that keeps the state
        elif op == "recv_nowait" and self.topology.can_recv(side):
            self._recv_nowait(side)
        elif op == "view_recv_nowait" and self.topology.can_recv(side):
            self._view_recv_nowait(side)
        elif (
            touches
            and op.endswith("send_nowait")
            and self.topology.can_send(side)
            and self._usable(other(side))
        ):
            self._driver_send(side, via_view=op.startswith("view_"))
        elif op == "subscribe" and self.topology.b_type == zmq.SUB and side == "B":
            sock.subscribe(b"unused-topic")
        else:
            # Any other socket: re-setting an option is a library call too.
            sock.setsockopt(zmq.LINGER, 0)

    # --- checks ----------------------------------------------------------------

    def in_flight(self, side: Side) -> int:
        """Messages sent to ``side`` that are still in its socket (or on
        their way there)."""
        return len(self.sent[side]) - len(self.taken[side]) - self.held(side)

    def _starving(self) -> list[TaskRecord]:
        """Receivers blocked in the engine although a message waits for them."""
        if not self.connected or self.lossy:
            return []
        starving = []
        for side in SIDES:
            if side in self.closed or self.in_flight(side) <= 0:
                continue
            blocked = [
                t
                for t in self.pending(side=side)
                if t.kind in ("recv", "wait", "view") and self._is_parked(t)
            ]
            starving.extend(blocked)
        return starving

    def _ready_but_parked(self) -> list[TaskRecord]:
        """inproc only: waiters parked although the socket says they could go.

        With inproc, nothing outside this thread changes a socket, so once
        every task is blocked (the loop has polled the fds), ZMQ_EVENTS read
        behind the library's back is the truth: a parked receiver on a
        readable socket, or a parked sender on a writable one, is a lost
        wake-up.

        The same holds on the anyio path, where a ready waiter is woken
        rather than served: a woken waiter is runnable, so once every task
        is blocked none is left woken-but-not-yet-run (quiesce() checks
        that), and a parked waiter is one nobody will wake.
        """
        parked = []
        open_sides = [side for side in SIDES if side not in self.closed]
        # Read both sockets before serving either: serving one may send the
        # other a command (e.g. room freed in a pipe), which is news, not a
        # lost wake-up.
        events = {side: read_events(self.socks[side].zmq_socket) for side in open_sides}
        for side in open_sides:
            for record in self.pending(side=side):
                wants = zmq.POLLOUT if record.direction == SEND else zmq.POLLIN
                if events[side] & wants and self._is_parked(record):
                    parked.append(record)
        for side in open_sides:
            # Our reads may have eaten an edge: let the engines look again.
            if engine_of(self.socks[side]).busy:
                engine_of(self.socks[side]).serve()
        return parked

    def _check_woken_resumed(self) -> None:
        """Once every task is blocked, no waiter is still marked woken.

        The anyio path marks a parked waiter woken when it makes it look
        again, and the mark is cleared when the task resumes (or, if it was
        cancelled, when it leaves).  A waiter still marked once everything
        is blocked was "woken" through an event its task no longer waits
        on: a lost wake-up.  (Never set on the trio-native path.)
        """
        for side in SIDES:
            if side in self.closed:
                continue
            engine = engine_of(self.socks[side])
            for queue in engine.queues:
                for waiter in queue:
                    if waiter.woken:
                        labels = [t.label for t in self.tasks if t.task is waiter.task]
                        raise PropertyViolation(
                            f"{labels or waiter!r} on {side}: woken, yet blocked with"
                            " everything else"
                        )

    async def quiesce(self) -> None:
        """Wait until every task is blocked, then check no waiter is still
        woken (so "parked" means the same on both engine paths)."""
        await wait_all_tasks_blocked()
        self._check_woken_resumed()

    async def settle(self) -> None:
        await self.quiesce()
        if self.program.transport == "inproc":
            starving = self._starving() or self._ready_but_parked()
        else:
            # Real I/O: give messages time to arrive before judging.
            with anyio.move_on_after(IO_GRACE):
                while starving := self._starving():
                    await anyio.sleep(0.005)
                    await self.quiesce()
        self._raise_if_starving(starving)

    def _raise_if_starving(self, starving: list[TaskRecord]) -> None:
        if starving:
            raise PropertyViolation(
                "lost wake-up: "
                + ", ".join(t.label for t in starving)
                + " parked although the socket could serve them (in flight: "
                f"A={self.in_flight('A')}, B={self.in_flight('B')})"
            )

    async def drain(self) -> None:
        """Bring every task to an end and every message home, or fail."""
        await self.connect()
        await self.settle()
        taken = self._taken_count()
        taken_at = anyio.current_time()
        with anyio.fail_after(LIVENESS):
            while self.pending():
                progressed = False
                # A message counted in flight may have been dropped with a
                # torn-down pipe (lossy programs): once nothing has been
                # taken for a while, feed the receivers all the same.
                if self._taken_count() != taken:
                    taken, taken_at = self._taken_count(), anyio.current_time()
                maybe_dropped = self.lossy and anyio.current_time() - taken_at > LOSS_GRACE
                if maybe_dropped:
                    taken_at = anyio.current_time()
                if self.topology.req_rep:
                    # Requesters are fed by the echo server; an orphan reply
                    # (its requester cancelled) must be taken off the REQ
                    # before it can send again.
                    if "A" in self.closed:
                        for record in self.pending(side="B"):
                            record.scope.cancel()
                    elif "B" not in self.closed and self._orphan_replies() > 0:
                        progressed = await self._drain_recv("B")
                    await self.quiesce()
                    if not progressed:
                        await anyio.sleep(0.001)
                    continue
                for record in self.pending():
                    if record.side in self.closed:
                        continue  # closing must end it by itself
                    peer = other(record.side)
                    if peer in self.closed:
                        record.scope.cancel()  # nothing can ever come for it
                    elif record.kind != "send":
                        if self.in_flight(record.side) <= 0 or maybe_dropped:
                            await self._drain_send(peer)  # feed the receiver
                    else:
                        progressed |= await self._drain_recv(peer)
                await self.quiesce()
                if self.program.transport == "inproc":
                    # The drain's own bursts (a message per pending task)
                    # are the best chance to see a waiter left behind.
                    self._raise_if_starving(self._ready_but_parked())
                if not progressed:
                    await anyio.sleep(0.001)
            # Every message sent must now arrive (unless sockets closed).
            if self.topology.req_rep:
                while not self.lossy and (self.in_flight("A") > 0 or self.in_flight("B") > 0):
                    if not await self._drain_recv("B"):
                        await anyio.sleep(0.001)  # the echo server is still at work
                return
            for side in SIDES:
                if side not in self.closed:
                    while self.held(side) and self._view_recv_nowait(side):
                        pass  # what the view holds comes first
            for side in SIDES:
                if side in self.closed or self.lossy:
                    continue
                while self.in_flight(side) > 0:
                    if self.program.transport == "inproc":
                        # Nothing is on its way: it is in the socket, or lost.
                        if not self._recv_nowait(side):
                            raise PropertyViolation(
                                f"lost on the way to {side}: {self.in_flight(side)} message(s)"
                                " sent are neither taken nor in the socket"
                            )
                        continue
                    frames = await self.socks[side].recv_multipart()
                    self._received(side, frames)

    def _taken_count(self) -> int:
        return len(self.taken["A"]) + len(self.taken["B"])

    async def _drain_send(self, side: Side) -> None:
        dest = other(side)
        self.counter += 1
        message = (f"fill{self.counter}{side}", 0)
        await self.socks[side].send_multipart(self._frames_to(dest, message))
        self.sent[dest].append(message)

    async def _drain_recv(self, side: Side) -> bool:
        return self._recv_nowait(side)

    def check_messages(self) -> None:
        for side in SIDES:
            sent, received = self.sent[side], self.taken[side]
            undelivered = sorted(set(received) - set(self.delivered[side]))
            if undelivered:
                raise PropertyViolation(
                    f"taken from {side}'s socket but never returned to a caller: {undelivered}"
                )
            counts = Counter(received)
            duplicated = [m for m, n in counts.items() if n > 1]
            if duplicated:
                raise PropertyViolation(f"duplicated at {side}: {duplicated}")
            unsent = [m for m in received if m not in set(sent)]
            if unsent:
                cancelled = [m for m in unsent if m in self.cancelled_sends]
                raise PropertyViolation(
                    f"received at {side} but never (successfully) sent: {unsent}"
                    + (f" -- of which cancelled sends: {cancelled}" if cancelled else "")
                )
            if not self.lossy:
                lost = [m for m in sent if m not in counts]
                if lost:
                    raise PropertyViolation(f"lost on the way to {side}: {lost}")
            # In libzmq's order, but for the messages noted only when a
            # view's caller got them (see via_view).
            ordered = [m for m in received if m not in self.via_view]
            last: dict[str, int] = {}
            for sender, seq in ordered:
                if seq <= last.get(sender, -1):
                    raise PropertyViolation(f"reordered from {sender} at {side}: {ordered}")
                last[sender] = seq
            position = {m: i for i, m in enumerate(ordered)}
            for earlier, later in self.fifo:
                if (
                    earlier in position
                    and later in position
                    and position[earlier] > position[later]
                ):
                    raise PropertyViolation(
                        f"newcomer overtook a parked sender: {later} arrived before {earlier}"
                    )

    def check_receiver_order(self) -> None:
        order = self.take_order
        for earlier, later in self.recv_fifo:
            if earlier in order and later in order and order[earlier] > order[later]:
                raise PropertyViolation(f"newcomer {later} was served before parked {earlier}")

    def check_engines(self) -> None:
        for side in SIDES:
            if side in self.closed:
                continue
            engine = engine_of(self.socks[side])
            if engine.queues[RECV] or engine.queues[SEND] or engine.watcher is not None:
                raise PropertyViolation(f"waiter left registered in {side}'s engine")
        bad = [t for t in self.tasks if t.outcome not in ("ok", "cancelled", "closed", "efsm")]
        wait_ok = [t for t in bad if t.outcome.startswith("woken")]
        if len(wait_ok) != len(bad):
            raise PropertyViolation(f"unexpected outcomes: {[(t.label, t.outcome) for t in bad]}")


def _single(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception inside nested task-group groups, or the group itself."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    violations = [e for e in leaves if isinstance(e, PropertyViolation | TimeoutError)]
    if violations:
        return violations[0]
    return leaves[0] if len(leaves) == 1 else group


async def _within(scope: anyio.CancelScope, fn: Callable[[], Awaitable[None]]) -> None:
    with scope:
        await fn()


# ----------------------------------------------------------------------
# Event-loop helpers
# ----------------------------------------------------------------------


#: asyncio: how many loop iterations in a row must find every other task
#: blocked.  A task's wake-up by I/O takes two: the iteration whose select
#: sees the fd only queues the reader callback (behind us), which completes
#: the task's future; the task is seen runnable at the next one.
_QUIET_ITERATIONS = 3


async def wait_all_tasks_blocked() -> None:
    """Return once every other task is blocked and the loop has polled I/O.

    On trio this is :func:`anyio.wait_all_tasks_blocked` (trio's own, exact).
    On asyncio anyio's version naps 0.1 s whenever some task is runnable,
    which a program with dozens of settles cannot afford; this one looks
    again after every loop iteration instead, with anyio's criterion: a task
    is blocked while it awaits a future that is not done (a woken task --
    its future done, its step not yet run -- is runnable, which is what the
    lost-wake-up checks need).  Every other task must be found blocked on
    several iterations in a row, so that a select ran after they all were.
    """
    if trio.lowlevel.in_trio_run():
        await anyio.wait_all_tasks_blocked()
        return
    this_task = asyncio.current_task()
    quiet = 0
    while quiet < _QUIET_ITERATIONS:
        await anyio.lowlevel.checkpoint()
        busy = False
        for task in asyncio.all_tasks():
            waiter = getattr(task, "_fut_waiter", None)
            if task is not this_task and (waiter is None or waiter.done()):
                busy = True
                break
        quiet = 0 if busy else quiet + 1


# ----------------------------------------------------------------------
# Running a program on an event loop
# ----------------------------------------------------------------------


async def run_program(program: Program, chaos: ChaosSchedule | None = None) -> Runner:
    """Execute ``program`` and check every invariant; return the runner.

    Runs on whichever event loop calls it; see :func:`run_on`.
    """
    fds_before = open_fds()
    with tempfile.TemporaryDirectory(prefix="trio-zmq-prop-") as ipc_dir:
        async with trio_zmq.Context(linger=0) as ctx:
            runner = Runner(program, ctx, ipc_dir)
            with anyio.fail_after(4 * LIVENESS):
                await runner.setup()
                try:
                    async with anyio.create_task_group() as task_group:
                        runner.task_group = task_group
                        server = anyio.CancelScope()
                        if runner.topology.req_rep:
                            task_group.start_soon(_within, server, runner.echo_server)
                        with chaos_mode(chaos) if chaos else contextlib.nullcontext():
                            for step in program.steps:
                                await runner.run_step(step)
                            await runner.drain()
                        server.cancel()
                except BaseExceptionGroup as group:
                    raise _single(group) from None
            runner.check_messages()
            runner.check_receiver_order()
            runner.check_engines()
    fds_after = open_fds()
    if fds_after != fds_before:
        raise PropertyViolation(f"open fds went from {fds_before} to {fds_after}")
    return runner


def run_on(loop: Loop, program: Program, chaos: ChaosSchedule | None = None) -> Runner:
    """Run :func:`run_program` on ``loop``: ``"trio"`` (the engine's
    trio-native path), ``"asyncio"`` (through anyio; the engine's anyio
    path) or ``"trio-anyio-engine"`` (trio, with the engine forced onto its
    anyio path)."""
    if loop == "trio":
        return trio.run(run_program, program, chaos)
    if loop == "asyncio":
        return anyio.run(run_program, program, chaos, backend="asyncio")
    if loop == "trio-anyio-engine":
        with _backend.force_anyio():
            return trio.run(run_program, program, chaos)
    raise ValueError(f"unknown loop {loop!r}")
