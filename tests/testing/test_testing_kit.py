"""The public testing kit, ``trio_zmq.testing``: strategies, socket_pair and
chaos mode (its pytest plugin is tested in test_pytest_plugin.py).

Every check uses real libzmq sockets: the strategies' values are sent,
bound and subscribed to; socket_pair's sockets are used; chaos mode's
injections are observed in what the engine does, not only counted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing
import zmq
from hypothesis import given
from hypothesis import strategies as st

import trio_zmq
from trio_zmq._core import _backend
from trio_zmq.testing import (
    PAIRABLE_TYPES,
    ChaosSchedule,
    chaos_mode,
    chaos_schedules,
    endpoints,
    frames,
    multipart_messages,
    routing_ids,
    socket_pair,
    socket_type_pairs,
    topics,
    transports,
    unique_endpoint,
)
from trio_zmq.testing._chaos import ChaosBackend

from tests.conftest import TRANSPORTS
from tests.helpers import bind

#: Bound on every wait for real I/O in this file.
PATIENCE = 10


def pair_id(types: tuple[zmq.SocketType, zmq.SocketType]) -> str:
    return f"{types[0].name}-{types[1].name}"


async def exchange(bound: trio_zmq.Socket, connected: trio_zmq.Socket) -> None:
    """One message each way the pair allows (one way for PUSH/PULL, PUB/SUB)."""
    with trio.fail_after(PATIENCE):
        if connected.type in (zmq.SUB, zmq.PULL):
            await bound.send(b"ping")
            assert await connected.recv() == b"ping"
            return
        await connected.send(b"ping")
        received = await bound.recv_multipart()
        *envelope, body = received
        assert body == b"ping"
        if bound.type == zmq.ROUTER:
            # The routing id, and REQ's empty delimiter.
            assert len(envelope) == (2 if connected.type == zmq.REQ else 1), received
            assert envelope[0]
        else:
            assert envelope == []
        if bound.type == zmq.PULL:
            return
        await bound.send_multipart([*envelope, b"pong"])
        assert await connected.recv_multipart() == [b"pong"]


# ----------------------------------------------------------------------
# Strategies: every value is valid, as libzmq sees it
# ----------------------------------------------------------------------


@given(frame_list=st.lists(frames(), min_size=1, max_size=4))
def test_frames_are_bytes_and_travel(frame_list: list[bytes]) -> None:
    for frame in frame_list:
        assert isinstance(frame, bytes)
        assert len(frame) <= 256 or 64 * 1024 <= len(frame) <= 256 * 1024

    async def main() -> None:
        async with socket_pair(zmq.PAIR, zmq.PAIR) as (a, b):
            for frame in frame_list:
                await b.send(frame)
            with trio.fail_after(PATIENCE):
                assert [await a.recv() for _ in frame_list] == frame_list

    trio.run(main)


@given(frame=frames(min_size=3, max_size=5, large=False))
def test_frames_respect_their_bounds(frame: bytes) -> None:
    assert isinstance(frame, bytes)
    assert 3 <= len(frame) <= 5


@given(
    message=multipart_messages(),
    bounded=multipart_messages(min_frames=2, max_frames=3),
)
def test_multipart_messages_are_nonempty_lists_of_bytes(
    message: list[bytes], bounded: list[bytes]
) -> None:
    for msg, low, high in ((message, 1, 8), (bounded, 2, 3)):
        assert isinstance(msg, list)
        assert low <= len(msg) <= high
        assert all(isinstance(frame, bytes) for frame in msg)

    async def main() -> None:
        async with socket_pair(zmq.PULL, zmq.PUSH) as (pull, push):
            await push.send_multipart(message)
            await push.send_multipart(bounded)
            with trio.fail_after(PATIENCE):
                assert await pull.recv_multipart() == message
                assert await pull.recv_multipart() == bounded

    trio.run(main)


@given(routing_id=routing_ids(), transport=transports())
def test_routing_ids_are_usable_by_a_router(routing_id: bytes, transport: str) -> None:
    assert isinstance(routing_id, bytes)
    assert 1 <= len(routing_id) <= 255
    assert routing_id[0] != 0  # libzmq reserves ids starting with a zero byte

    async def main() -> None:
        async with trio_zmq.Context(linger=0) as ctx:
            router = ctx.socket(zmq.ROUTER)
            router.setsockopt(zmq.ROUTER_MANDATORY, 1)  # unknown id: an error
            address = bind(router, unique_endpoint(transport))
            dealer = ctx.socket(zmq.DEALER)
            dealer.setsockopt(zmq.ROUTING_ID, routing_id)
            dealer.connect(address)
            with trio.fail_after(PATIENCE):
                await dealer.send(b"hello")
                assert await router.recv_multipart() == [routing_id, b"hello"]
                await router.send_multipart([routing_id, b"back"])
                assert await dealer.recv() == b"back"

    trio.run(main)


@given(topic=topics(), transport=transports())
def test_topics_filter_a_subscription(topic: bytes, transport: str) -> None:
    assert isinstance(topic, bytes)
    assert len(topic) <= 16

    async def main() -> None:
        async with trio_zmq.Context(linger=0) as ctx:
            pub = ctx.socket(zmq.PUB)
            sub = ctx.socket(zmq.SUB)
            sub.connect(bind(pub, unique_endpoint(transport)))
            sub.subscribe(topic)
            with trio.fail_after(PATIENCE):
                # Publish until the subscription has reached the publisher...
                while True:
                    await pub.send(topic + b"sync")
                    with trio.move_on_after(0.01):
                        assert await sub.recv() == topic + b"sync"
                        break
                await pub.send(topic + b"end")  # ...and drain what is in flight.
                while await sub.recv() != topic + b"end":
                    pass
                if topic:
                    await pub.send(topic[:-1])  # shorter than the topic: filtered out
                await pub.send(topic + b"payload")
                assert await sub.recv() == topic + b"payload"

    trio.run(main)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_endpoints_can_be_bound(transport: str) -> None:
    @given(first=endpoints(transport), second=endpoints(transport))
    def check(first: str, second: str) -> None:
        assert first.startswith(f"{transport}://")
        if transport == "tcp":
            assert first == second == "tcp://127.0.0.1"  # the port comes from bind
        else:
            assert first != second  # fresh every time

        async def main() -> None:
            async with trio_zmq.Context(linger=0) as ctx:
                for endpoint in (first, second):
                    pull = ctx.socket(zmq.PULL)
                    push = ctx.socket(zmq.PUSH)
                    push.connect(bind(pull, endpoint))
                    await push.send(endpoint.encode())
                    with trio.fail_after(PATIENCE):
                        assert await pull.recv() == endpoint.encode()

        trio.run(main)

    check()


@given(endpoint=endpoints())
def test_endpoints_of_any_transport(endpoint: str) -> None:
    assert endpoint.split("://")[0] in TRANSPORTS


def test_unique_endpoint_rejects_unknown_transports() -> None:
    with pytest.raises(ValueError, match="unknown transport"):
        unique_endpoint("udp")


@given(types=socket_type_pairs(), transport=transports())
def test_socket_type_pairs_can_talk(
    types: tuple[zmq.SocketType, zmq.SocketType], transport: str
) -> None:
    assert types in PAIRABLE_TYPES

    async def main() -> None:
        async with socket_pair(*types, transport) as (bound, connected):
            await exchange(bound, connected)

    trio.run(main)


@given(schedule=chaos_schedules(max_decisions=5))
def test_chaos_schedules_are_lists_of_decisions(schedule: ChaosSchedule) -> None:
    for decisions in (
        schedule.spurious_wakeups,
        schedule.forced_eagain,
        schedule.extra_checkpoints,
    ):
        assert len(decisions) <= 5
        assert all(isinstance(decision, bool) for decision in decisions)
    assert schedule.used() == {}


# ----------------------------------------------------------------------
# socket_pair
# ----------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("bind_type", "connect_type"), PAIRABLE_TYPES, ids=map(pair_id, PAIRABLE_TYPES)
)
async def test_socket_pair_yields_ready_sockets(
    bind_type: zmq.SocketType, connect_type: zmq.SocketType, transport: str
) -> None:
    async with socket_pair(bind_type, connect_type, transport) as (bound, connected):
        assert (bound.type, connected.type) == (bind_type, connect_type)
        assert bound.context is connected.context
        if bind_type in (zmq.PUB, zmq.XPUB):
            # Synchronised and drained: nothing waits, and the very first
            # message published is received.
            with pytest.raises(trio.WouldBlock):
                connected.recv_nowait()
            await bound.send(b"first")
            with trio.fail_after(PATIENCE):
                assert await connected.recv() == b"first"
        await exchange(bound, connected)
    assert bound.closed
    assert connected.closed
    assert bound.context is not None
    assert bound.context.closed  # the context socket_pair made is terminated too


async def test_socket_pair_closes_its_sockets_on_error() -> None:
    made: list[trio_zmq.Socket] = []

    async def fail_inside() -> None:
        async with socket_pair(zmq.PAIR, zmq.PAIR) as (a, b):
            made.extend((a, b))
            raise KeyError("boom")

    with pytest.raises(KeyError):
        await fail_inside()
    assert len(made) == 2
    assert all(sock.closed for sock in made)


async def test_socket_pair_in_a_given_context_and_ipc_dir(
    zmq_context: trio_zmq.Context, zmq_ipc_dir: str
) -> None:
    pair = socket_pair(zmq.PULL, zmq.PUSH, "ipc", context=zmq_context, ipc_dir=zmq_ipc_dir)
    async with pair as (pull, push):
        assert pull.context is zmq_context
        assert pull.get_string(zmq.LAST_ENDPOINT).startswith(f"ipc://{zmq_ipc_dir}/")
        await exchange(pull, push)
    assert pull.closed
    assert push.closed
    assert not zmq_context.closed  # not socket_pair's to close


# ----------------------------------------------------------------------
# chaos_mode
# ----------------------------------------------------------------------


class StepCounter(trio.abc.Instrument):
    """Counts how often each task is run by trio's scheduler."""

    def __init__(self) -> None:
        self.steps: dict[trio.lowlevel.Task, int] = {}

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps[task] = self.steps.get(task, 0) + 1


@pytest.fixture
async def step_counter() -> AsyncIterator[StepCounter]:
    counter = StepCounter()
    trio.lowlevel.add_instrument(counter)
    yield counter
    trio.lowlevel.remove_instrument(counter)


async def yields_of_one_recv(sock: trio_zmq.Socket, counter: StepCounter) -> int:
    """How often the current task yields to the scheduler in ``sock.recv()``."""
    task = trio.lowlevel.current_task()
    before = counter.steps.get(task, 0)
    await sock.recv()
    return counter.steps[task] - before


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_chaos_mode_all_adversities_operations_still_work(transport: str) -> None:
    schedule = ChaosSchedule(
        spurious_wakeups=[True] * 20, forced_eagain=[True] * 20, extra_checkpoints=[True] * 20
    )
    async with socket_pair(zmq.PAIR, zmq.PAIR, transport) as (a, b):

        async def echo() -> None:
            for _ in range(30):
                await b.send_multipart(await b.recv_multipart())

        with chaos_mode(schedule) as active, trio.fail_after(PATIENCE):
            assert active is schedule
            async with trio.open_nursery() as nursery:
                nursery.start_soon(echo)
                for i in range(30):
                    message = [b"%d" % i, b"", b"x" * i]
                    await a.send_multipart(message)
                    assert await a.recv_multipart() == message
    # Every injection was consumed: spurious wake-ups by waiting tasks,
    # forced EAGAIN and extra checkpoints by the first operations.
    assert schedule.used() == {"spurious": 20, "eagain": 20, "checkpoint": 20}


def installed_backends() -> tuple[_backend.Backend, _backend.Backend]:
    """(trio tasks' backend, other tasks'), read afresh (mypy would narrow)."""
    return _backend.for_trio, _backend.for_others


def test_chaos_mode_wraps_the_backends_and_restores_them() -> None:
    """chaos_mode works through the engine's one test hook: inside it every
    task's backend is a chaos wrapper of the one it had (the anyio path's
    too, when a test forced it), and leaving restores exactly that."""
    before = installed_backends()
    assert before == (_backend.TRIO, _backend.ASYNCIO)
    with chaos_mode(ChaosSchedule()):
        wrapped = installed_backends()
        assert all(isinstance(b, ChaosBackend) for b in wrapped)
        assert [getattr(b, "inner", None) for b in wrapped] == list(before)
    assert installed_backends() == before
    with _backend.force_anyio(), chaos_mode(ChaosSchedule()):
        trio_tasks = installed_backends()[0]
        assert isinstance(trio_tasks, ChaosBackend)
        assert trio_tasks.inner is _backend.ANYIO
    assert installed_backends() == before


async def test_chaos_mode_forced_eagain_is_real() -> None:
    schedule = ChaosSchedule(forced_eagain=[True, True, True])
    async with socket_pair(zmq.PAIR, zmq.PAIR) as (a, b):
        with chaos_mode(schedule):
            # The socket can send, but the first attempts are told EAGAIN:
            # NOBLOCK sends fail as if the high-water mark had been reached.
            for _ in range(3):
                with pytest.raises(zmq.Again):
                    await a.send(b"refused", zmq.NOBLOCK)
            await a.send(b"accepted", zmq.NOBLOCK)  # decisions used up
        assert schedule.used() == {"eagain": 3}
        with trio.fail_after(PATIENCE):
            assert await b.recv() == b"accepted"
        with pytest.raises(trio.WouldBlock):
            b.recv_nowait()

        # A blocking operation told EAGAIN waits for the engine, which
        # finds the socket ready and serves it at once.
        waiting = ChaosSchedule(forced_eagain=[True, True])
        with chaos_mode(waiting), trio.fail_after(PATIENCE):
            await a.send(b"waited")
            assert await b.recv() == b"waited"
        assert waiting.used() == {"eagain": 2}


async def test_chaos_mode_extra_checkpoints_are_real(step_counter: StepCounter) -> None:
    async with socket_pair(zmq.PAIR, zmq.PAIR) as (a, b):
        await a.send(b"one")
        await a.send(b"two")
        with trio.fail_after(PATIENCE):
            await trio_zmq.wait_readable(b)
        plain = await yields_of_one_recv(b, step_counter)
        schedule = ChaosSchedule(extra_checkpoints=[True])
        with chaos_mode(schedule):
            chaotic = await yields_of_one_recv(b, step_counter)
        assert chaotic == plain + 1
        assert schedule.used() == {"checkpoint": 1}


async def test_chaos_mode_spurious_wakeups_are_real(step_counter: StepCounter) -> None:
    schedule = ChaosSchedule(spurious_wakeups=[True] * 20)
    received: list[bytes] = []
    tasks: list[trio.lowlevel.Task] = []

    async def receive(sock: trio_zmq.Socket) -> None:
        tasks.append(trio.lowlevel.current_task())
        received.append(await sock.recv())

    async with socket_pair(zmq.PAIR, zmq.PAIR) as (a, b):
        with chaos_mode(schedule), trio.fail_after(PATIENCE):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive, b)
                await trio.testing.wait_all_tasks_blocked()
                # Nothing to receive: the receiver, watching the fd, was
                # woken 20 times for nothing and is waiting again.
                assert schedule.used() == {"spurious": 20}
                assert step_counter.steps[tasks[0]] > 20
                assert received == []
                await a.send(b"at last")
    assert received == [b"at last"]


async def test_chaos_mode_is_not_reentrant() -> None:
    outer = ChaosSchedule(forced_eagain=[True] * 5)
    async with socket_pair(zmq.PAIR, zmq.PAIR) as (a, _):
        with chaos_mode(outer):
            with pytest.raises(RuntimeError, match="already active"), chaos_mode(ChaosSchedule()):
                pytest.fail("entered chaos_mode twice")
            # The outer schedule is still the one in force.
            with pytest.raises(zmq.Again):
                await a.send(b"x", zmq.NOBLOCK)
        assert outer.used() == {"eagain": 1}


async def test_chaos_mode_is_reset_after_an_error() -> None:
    schedule = ChaosSchedule(
        spurious_wakeups=[True] * 5, forced_eagain=[True] * 5, extra_checkpoints=[True] * 5
    )
    async with socket_pair(zmq.PAIR, zmq.PAIR) as (a, b):
        with pytest.raises(KeyError), chaos_mode(schedule):
            raise KeyError("boom")
        # No adversity any more, and the schedule is not consulted.
        await a.send(b"x", zmq.NOBLOCK)
        with trio.fail_after(PATIENCE):
            assert await b.recv() == b"x"
        assert schedule.used() == {}
        with chaos_mode(ChaosSchedule()):  # and chaos mode can be entered again
            pass
