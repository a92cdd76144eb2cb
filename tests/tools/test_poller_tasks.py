"""trio only: what a ``Poller.poll()`` costs in tasks and checkpoints.

* something already ready: one checkpoint and no task at all;
* one thing to wait for: the caller's task waits, no task either;
* several: a child per wait but one (the caller's task waits that one), in
  a task group that ends with the call (trio's instruments see every task
  spawned and exited);
* every poll is a checkpoint; a cancelled scope makes it raise first;
* a poll loop under the testing kit's chaos mode loses nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator

import pytest
import trio
import trio.testing
import zmq
from hypothesis import given
from hypothesis import strategies as st

import trio_zmq
from trio_zmq.testing import ChaosSchedule, chaos_mode, chaos_schedules, unique_endpoint

from tests.helpers import assert_idle, pair, until_readable


class TaskCounter(trio.abc.Instrument):
    def __init__(self) -> None:
        self.spawned = 0
        self.exited = 0

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        self.spawned += 1

    def task_exited(self, task: trio.lowlevel.Task) -> None:
        self.exited += 1


@pytest.fixture
async def tasks() -> AsyncIterator[TaskCounter]:
    counter = TaskCounter()
    trio.lowlevel.add_instrument(counter)
    try:
        yield counter
    finally:
        trio.lowlevel.remove_instrument(counter)


@pytest.fixture
def pipe_fds() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    yield r, w
    os.close(r)
    os.close(w)


async def test_ready_answers_after_one_checkpoint_without_tasks(
    ctx: trio_zmq.Context, tasks: TaskCounter, pipe_fds: tuple[int, int]
) -> None:
    socks = [pair(ctx, zmq.PULL, zmq.PUSH, unique_endpoint("inproc"))[:2] for _ in range(10)]
    r, _ = pipe_fds
    poller = trio_zmq.Poller()
    for pull, _ in socks:
        poller.register(pull, zmq.POLLIN)
    poller.register(r, zmq.POLLIN)
    await socks[5][1].send(b"x")
    await until_readable(socks[5][0])
    before = tasks.spawned
    for timeout in (None, 0, 100):
        with trio.testing.assert_checkpoints():
            assert await poller.poll(timeout) == [(socks[5][0], zmq.POLLIN)]
    assert tasks.spawned == before


async def test_one_wait_uses_the_callers_task(
    ctx: trio_zmq.Context, tasks: TaskCounter, inproc: str
) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    poller = trio_zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    poller.register(pull.zmq_socket, zmq.POLLIN)  # the same libzmq socket: one wait
    async with trio.open_nursery() as nursery:
        nursery.start_soon(push.send, b"x")  # runs once the poll sleeps
        before = tasks.spawned
        with trio.fail_after(5), trio.testing.assert_checkpoints():
            ready = await poller.poll()
        assert tasks.spawned == before
    assert ready == [(pull, zmq.POLLIN), (pull.zmq_socket, zmq.POLLIN)]
    assert_idle(pull, push)


async def test_several_waits_one_child_each_none_left(
    ctx: trio_zmq.Context, tasks: TaskCounter, pipe_fds: tuple[int, int]
) -> None:
    socks = [pair(ctx, zmq.PULL, zmq.PUSH, unique_endpoint("inproc"))[:2] for _ in range(10)]
    r, w = pipe_fds
    poller = trio_zmq.Poller()
    for pull, _ in socks:
        poller.register(pull, zmq.POLLIN)
    poller.register(r, zmq.POLLIN | zmq.POLLOUT)  # a wait per direction...
    os.set_blocking(w, False)
    poller.register(w, zmq.POLLIN)  # ...and one for w (never readable)
    async with trio.open_nursery() as nursery:

        async def send_later() -> None:
            await trio.testing.wait_all_tasks_blocked()
            # 13 waits (10 sockets, r twice, w): the caller's task waits
            # one, 12 children the others; all asleep.
            assert tasks.spawned - before == 1 + 12
            await socks[7][1].send(b"x")

        before, exited_before = tasks.spawned, tasks.exited
        nursery.start_soon(send_later)
        with trio.fail_after(5), trio.testing.assert_checkpoints():
            ready = await poller.poll()
        # The group ended with the call: all 12 children are gone.
        assert tasks.exited - exited_before >= 12
    assert ready == [(socks[7][0], zmq.POLLIN)]
    assert (tasks.spawned - before, tasks.exited - exited_before) == (13, 13)
    assert_idle(*(s for p in socks for s in p))


async def test_precancelled_poll_raises_in_every_mode(
    ctx: trio_zmq.Context, inproc: str, pipe_fds: tuple[int, int]
) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    r, _ = pipe_fds
    poller = trio_zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    for ready in (False, True):
        if ready:
            await push.send(b"x")
            await until_readable(pull)
        for timeout in (None, 0, 100):
            for extra in (None, r):
                if extra is not None:
                    poller.register(extra, zmq.POLLIN)
                with trio.CancelScope() as scope:
                    scope.cancel()
                    await poller.poll(timeout)
                    pytest.fail("poll() returned under a cancelled scope")
                assert scope.cancelled_caught
                if extra is not None:
                    poller.unregister(extra)
    assert pull.recv_nowait() == b"x"
    assert_idle(pull, push)


# ----------------------------------------------------------------------
# Under adversarial scheduling (trio_zmq.testing.chaos_mode)
# ----------------------------------------------------------------------


@given(
    schedule=chaos_schedules(),
    sends=st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=1, max_size=12),
    with_receiver=st.booleans(),
)
def test_poll_loop_under_chaos_loses_nothing(
    schedule: ChaosSchedule, sends: list[tuple[int, bool]], with_receiver: bool
) -> None:
    """A poll loop over four sockets, a producer that sends to them in a
    drawn order (yielding or not in between), optionally a task blocked in
    recv on socket 0, and the engine injecting spurious wake-ups, forced
    EAGAIN and extra checkpoints: every message is received exactly once
    and nothing hangs."""

    async def main() -> None:
        async with trio_zmq.Context(linger=0) as ctx:
            socks = [pair(ctx, zmq.PULL, zmq.PUSH, unique_endpoint("inproc"))[:2] for _ in range(4)]
            poller = trio_zmq.Poller()
            for pull, _ in socks:
                poller.register(pull, zmq.POLLIN)
            received: list[bytes] = []

            async def produce() -> None:
                for n, (index, pause) in enumerate(sends):
                    await socks[index][1].send(str(n).encode())
                    if pause:
                        await trio.lowlevel.checkpoint()

            async def receive_on_0() -> None:
                while True:
                    received.append(await socks[0][0].recv())

            with chaos_mode(schedule), trio.fail_after(10):
                async with trio.open_nursery() as nursery:
                    if with_receiver:
                        nursery.start_soon(receive_on_0)
                    nursery.start_soon(produce)
                    while len(received) < len(sends):
                        with trio.move_on_after(0.05):  # the receiver may take the last
                            for sock, events in await poller.poll():
                                assert events == zmq.POLLIN
                                # WouldBlock: the blocked receiver was first.
                                with contextlib.suppress(trio.WouldBlock):
                                    received.append(sock.recv_nowait())
                    nursery.cancel_scope.cancel()
            assert sorted(received, key=int) == [str(n).encode() for n in range(len(sends))]
            assert_idle(*(s for p in socks for s in p))

    trio.run(main)
