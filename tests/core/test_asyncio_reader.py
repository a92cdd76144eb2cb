"""The asyncio backend's lasting reader (``trio_zmq._core._backend._Asyncio``).

On asyncio the socket's fd stays registered with the loop from its first wait
to its close, as zmq.asyncio keeps its reader.  What that must not cost: a
loop that spins on a level-triggered fd nobody reads, a registration left
behind by a closed socket, a socket stuck to the first loop it waited on.
What it gives: a wake-up nobody watches for is still served.

Plain ``asyncio.run`` throughout: the tests control which loop runs when.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import zmq

import trio_zmq
from trio_zmq._core import _registry

from tests.broken_engines import NoHandover
from tests.helpers import engine_of

#: Liveness bound, seconds.
PROMPT = 5


@pytest.fixture
def zctx() -> Iterator[zmq.Context[Any]]:
    zctx: zmq.Context[Any] = zmq.Context()
    yield zctx
    zctx.destroy(linger=0)


def pull_push(zctx: zmq.Context[Any], name: str) -> tuple[trio_zmq.Socket, trio_zmq.Socket]:
    pull = trio_zmq.Socket.from_socket(zctx.socket(zmq.PULL))
    push = trio_zmq.Socket.from_socket(zctx.socket(zmq.PUSH))
    pull.bind(f"inproc://{name}")
    push.connect(f"inproc://{name}")
    return pull, push


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(main(), PROMPT))


def test_fd_stays_registered_between_waits_and_leaves_with_close(
    zctx: zmq.Context[Any],
) -> None:
    pull, push = pull_push(zctx, "lasting")
    fd = pull.fileno()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for message in (b"one", b"two"):
            receiver = asyncio.ensure_future(pull.recv())
            await asyncio.sleep(0.01)  # it waits on the fd
            await push.send(message)
            assert await receiver == message
            # Registered still, with nobody waiting: the next wait costs
            # no epoll_ctl.  (remove_reader would say True; look, don't touch.)
            assert engine_of(pull).fd_loop is loop
        pull.close()
        assert not loop.remove_reader(fd), "a closed socket's fd is still registered"

    run(main)


def test_an_idle_socket_does_not_spin_the_loop_and_is_let_go(zctx: zmq.Context[Any]) -> None:
    messages = 50
    pull, push = pull_push(zctx, "idle")

    async def main() -> None:
        receiver = asyncio.ensure_future(pull.recv())
        await asyncio.sleep(0.01)
        await push.send(b"first")
        assert await receiver == b"first"
        # Now nobody waits.  A failed receive marks the pipe empty,
        # so the next message comes with a command on the fd (a
        # level-triggered registration): the reader must consume
        # it, or the loop turns without sleeping.
        with pytest.raises(trio_zmq.WouldBlock):
            pull.recv_nowait()
        for i in range(messages):
            push.send_nowait(b"%d" % i)
        turns = 0
        loop = asyncio.get_running_loop()
        start_cpu, start = time.process_time(), loop.time()
        while loop.time() - start < 0.3:
            turns += 1
            await asyncio.sleep(0.05)
        cpu = time.process_time() - start_cpu
        # A spinning loop burns a core: 0.3 s of CPU.  Sleeping, it
        # burns next to nothing; generous, for a loaded machine.
        assert cpu < 0.15, f"the loop spun: {cpu:.3f} s of CPU in 0.3 s"
        assert [pull.recv_nowait() for _ in range(messages)] == [b"%d" % i for i in range(messages)]
        # With nobody waiting, the reader let the fd go rather than
        # read ZMQ_EVENTS on every report; the next wait takes it
        # up again.
        assert engine_of(pull).fd_loop is None
        assert not loop.remove_reader(pull.fileno())
        receiver = asyncio.ensure_future(pull.recv())
        await asyncio.sleep(0.01)
        assert engine_of(pull).fd_loop is loop
        await push.send(b"after")
        assert await receiver == b"after"

    run(main)


def test_a_socket_moves_to_the_next_loop(zctx: zmq.Context[Any]) -> None:
    pull, push = pull_push(zctx, "moves")

    async def round_trip(message: bytes) -> None:
        receiver = asyncio.ensure_future(pull.recv())
        await asyncio.sleep(0.01)
        await push.send(message)
        assert await receiver == message

    run(lambda: round_trip(b"first loop"))
    # The first loop is closed now; a second one, and one in another thread.
    run(lambda: round_trip(b"second loop"))
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            run(lambda: round_trip(b"third loop, another thread"))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(PROMPT)
    assert not thread.is_alive()
    assert not errors, errors


def test_a_wake_up_nobody_watches_for_is_served(zctx: zmq.Context[Any]) -> None:
    """A watcher that leaves without handing the fd over (the broken
    engine NoHandover) strands the tasks parked behind it on trio; on
    asyncio the lasting reader serves them when the message comes."""
    with _registry.engine_factory(NoHandover):
        pull, push = pull_push(zctx, "no-watcher")

    async def main() -> None:
        watcher = asyncio.ensure_future(pull.recv())
        await asyncio.sleep(0.01)
        parked = asyncio.ensure_future(pull.recv())
        await asyncio.sleep(0.01)
        assert pull.statistics().tasks_waiting_receive == 2
        watcher.cancel()
        await asyncio.sleep(0.01)
        stats = pull.statistics()
        assert (stats.tasks_waiting_receive, stats.fd_watched) == (1, False)
        await push.send(b"for the parked one")
        assert await parked == b"for the parked one"

    run(main)
