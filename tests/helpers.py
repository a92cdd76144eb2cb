"""Helpers shared by the test modules, defined once.

Fixtures and pytest hooks live in ``tests/conftest.py``; this module holds
plain functions and classes, imported as ``from tests.helpers import ...``.
Endpoints come from the public testing kit
(:func:`trio_zmq.testing.unique_endpoint`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeAlias

import anyio
import pytest
import trio
import trio.testing
import zmq

import trio_zmq
from trio_zmq._core import _backend
from trio_zmq._core._engine import RECV, SEND, Engine
from trio_zmq._socket._port import port_of

#: The repository's root (the folder that holds ``tests/``).
ROOT = Path(__file__).resolve().parents[1]
PEER_SCRIPT = ROOT / "tests" / "peer.py"

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

AnySocket: TypeAlias = trio_zmq.Socket | zmq.Socket[Any]


# ----------------------------------------------------------------------
# Sockets and endpoints
# ----------------------------------------------------------------------


def bind(sock: trio_zmq.Socket, endpoint: str) -> str:
    """Bind ``sock`` to ``endpoint`` (a random port for tcp); return the address."""
    if endpoint == "tcp://127.0.0.1":
        port = sock.bind_to_random_port(endpoint)
        return f"{endpoint}:{port}"
    sock.bind(endpoint)
    return endpoint


def pair(
    ctx: trio_zmq.Context, bound_type: int, connected_type: int, endpoint: str
) -> tuple[trio_zmq.Socket, trio_zmq.Socket, str]:
    """(bound socket, connected socket, address), connected over ``endpoint``."""
    bound = ctx.socket(bound_type)
    address = bind(bound, endpoint)
    connected = ctx.socket(connected_type)
    connected.connect(address)
    return bound, connected, address


class HookedSocket(zmq.Socket[Any]):
    """A real pyzmq socket that runs ``on_again(frames)`` when a send fails."""

    on_again: Callable[[list[bytes]], None] | None = None

    def send(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().send(data, *args, **kwargs)
        except zmq.Again:
            if self.on_again is not None:
                self.on_again([data])
            raise


# ----------------------------------------------------------------------
# Messages
# ----------------------------------------------------------------------


def seq(n: int) -> bytes:
    """Sequence number ``n`` as a frame (8 bytes, big-endian, as tests/peer.py sends)."""
    return n.to_bytes(8, "big")


def unseq(frame: bytes) -> int:
    """The sequence number in a frame made by :func:`seq`."""
    assert len(frame) == 8, frame
    return int.from_bytes(frame, "big")


async def recv_frames(sock: trio_zmq.Socket) -> list[bytes]:
    """recv_multipart under a liveness bound."""
    with anyio.fail_after(5):
        return await sock.recv_multipart()


# ----------------------------------------------------------------------
# Readiness, without the waits under test
# ----------------------------------------------------------------------


async def until_ready(sock: AnySocket, events: int) -> None:
    """Wait (bounded) until ``events`` are ready on ``sock``, using only probe.

    Set-up must not depend on the waits under test, so this polls (there is
    no event to wait for: readiness is libzmq's state).
    """
    with anyio.fail_after(5):
        while not trio_zmq.probe(sock, events):  # noqa: ASYNC110 - see docstring
            await anyio.sleep(0.001)


async def until_readable(sock: AnySocket) -> None:
    await until_ready(sock, zmq.POLLIN)


async def until_writable(sock: AnySocket) -> None:
    await until_ready(sock, zmq.POLLOUT)


# ----------------------------------------------------------------------
# The engine and the event loop
# ----------------------------------------------------------------------


def engine_of(sock: trio_zmq.Socket) -> Engine:
    """The engine under ``sock``, for tests of the engine itself; tests that
    only need to know who waits read ``sock.statistics()``."""
    return port_of(sock).engine


def waiting(sock: trio_zmq.Socket, direction: int) -> int:
    """How many tasks wait on ``sock`` in ``direction`` (RECV or SEND)."""
    stats = sock.statistics()
    return stats.tasks_waiting_receive if direction == RECV else stats.tasks_waiting_send


def busy(sock: trio_zmq.Socket) -> bool:
    """Whether any task waits on ``sock``."""
    stats = sock.statistics()
    return bool(stats.tasks_waiting_receive or stats.tasks_waiting_send)


def assert_engine_idle(engine: Engine) -> None:
    """No waiter is left registered in ``engine``."""
    assert not engine.queues[RECV], engine.queues[RECV]
    assert not engine.queues[SEND], engine.queues[SEND]
    assert engine.watcher is None


def assert_idle(*socks: trio_zmq.Socket) -> None:
    """No task is left waiting on ``socks``."""
    for sock in socks:
        stats = sock.statistics()
        assert stats.tasks_waiting_receive == stats.tasks_waiting_send == 0, stats
        assert not stats.fd_watched, stats


def current_task() -> object:
    """The running task, as the engine records it in ``Waiter.task``."""
    return _backend.running_task()


@contextlib.contextmanager
def assert_schedule_point() -> Iterator[None]:
    """Assert that the block yields to the event loop at least once.

    trio: :func:`trio.testing.assert_checkpoints`.  asyncio: a callback
    queued on the loop before the block has run by its end, which happens
    only if the task let the loop run.
    """
    if trio.lowlevel.in_trio_task():
        with trio.testing.assert_checkpoints():
            yield
        return
    ran: list[bool] = []
    asyncio.get_running_loop().call_soon(ran.append, True)
    yield
    assert ran, "the block did not yield to the event loop"


# ----------------------------------------------------------------------
# Expected failures, bare or in exception groups
# ----------------------------------------------------------------------


def is_failure_of(
    exc: BaseException,
    kind: type[BaseException] | tuple[type[BaseException], ...],
    match: str | None = None,
) -> bool:
    """Whether ``exc`` is a ``kind`` whose message matches ``match``, or a
    group (nested or not) of nothing else."""
    if isinstance(exc, BaseExceptionGroup):
        return all(is_failure_of(inner, kind, match) for inner in exc.exceptions)
    return isinstance(exc, kind) and (match is None or re.search(match, str(exc)) is not None)


def assert_hypothesis_catches(
    run: Callable[[], object],
    kind: type[BaseException] | tuple[type[BaseException], ...],
    match: str | None = None,
) -> BaseException:
    """Run a ``@given`` test expected to fail; assert that it failed with
    ``kind`` (see :func:`is_failure_of`) and return what it raised.

    Hypothesis replays the failure it reports.  When the failure hinges on
    timing the replay does not reproduce (a cancellation landing on a held
    message, a busy machine), it raises ``FlakyFailure`` instead: an
    exception group of the failures it saw, and still a catch.
    """
    kinds = kind if isinstance(kind, tuple) else (kind,)
    with pytest.raises((*kinds, BaseExceptionGroup)) as raised:
        run()
    assert is_failure_of(raised.value, kind, match), raised.value
    return raised.value


# ----------------------------------------------------------------------
# The process: open fds, peer processes
# ----------------------------------------------------------------------


def open_fds() -> int:
    """How many file descriptors this process has open (Linux: /proc)."""
    return len(os.listdir("/proc/self/fd"))


async def kill_process(process: trio.Process) -> None:
    """SIGKILL ``process`` and reap it: shielded (it runs on the way out of
    cancelled tests) and bounded."""
    with trio.CancelScope(shield=True), trio.fail_after(10):
        process.kill()
        await process.wait()


class Peer:
    """A real peer process running tests/peer.py with blocking pyzmq."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(PEER_SCRIPT), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait(self, timeout: float = 30) -> str:
        """Wait for the peer to exit successfully; return its stdout."""
        out, err = self.process.communicate(timeout=timeout)
        assert self.process.returncode == 0, f"peer failed ({self.process.returncode}): {err}"
        return out

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()
