"""Shared fixtures: a context, connected socket pairs over every transport,
and real peer processes.  Every socket here is a real libzmq socket.

Event loops.  A test module that sets ``pytestmark = ON_EVERY_LOOP`` is
written against anyio's API and runs four times, once per *flavour*:

* ``trio`` -- under pytest-trio; the engine takes its trio-native path (as
  it does for anyio code running on trio), and recv/send and the channels
  take the socket layer's fast path;
* ``trio-general-path`` -- the same, with the fast path switched off (by a
  chaos source that injects nothing), so that the general form of every
  operation, ``Socket._operate``, is tested on trio as well;
* ``asyncio`` -- under ``anyio.run(backend="asyncio")``; the engine takes
  its anyio path;
* ``trio-anyio-engine`` -- under pytest-trio, with the engine forced onto
  its anyio path: the same primitives as on asyncio, trio's scheduler.

The other modules test trio-specific promises (``trio.testing``'s checkpoint
assertions, MockClock) and run under pytest-trio only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import itertools
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeAlias

import anyio
import pytest
import trio
import trio.testing
import zmq

import trio_zmq
from trio_zmq._core import _backend, _chaos

TRANSPORTS = ["inproc", "ipc", "tcp"]
#: Liveness bound for terminating the ``ctx`` fixture's context.
TERM_BOUND = 10
PEER_SCRIPT = Path(__file__).with_name("peer.py")
_names = itertools.count()


FLAVOURS = ["trio", "trio-general-path", "asyncio", "trio-anyio-engine"]
ON_EVERY_LOOP = pytest.mark.usefixtures("flavour")


class NoAdversity:
    """A chaos source that injects nothing.  While it is installed the
    socket layer skips its fast path: the general path is what runs."""

    def spurious_wakeup(self) -> bool:
        return False

    def force_eagain(self) -> bool:
        return False

    def extra_checkpoint(self) -> bool:
        return False


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> Iterator[str]:
    """Which event loop (and engine path) runs the test; see the module doc."""
    name = str(request.param)
    _chaos.set_force_anyio(name == "trio-anyio-engine")
    if name == "trio-general-path":
        _chaos.set_source(NoAdversity())
    try:
        yield name
    finally:
        _chaos.set_force_anyio(False)
        _chaos.set_source(None)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # pytest-trio's trio_mode marks every async test as a trio test; the
    # asyncio flavour is run by pytest_pyfunc_call below instead.
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("flavour") == "asyncio":
            item.own_markers = [m for m in item.own_markers if m.name != "trio"]


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if pyfuncitem.funcargs.get("flavour") != "asyncio":
        return None
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    anyio.run(functools.partial(pyfuncitem.obj, **kwargs), backend="asyncio")
    return True


@pytest.fixture
def ctx() -> Iterator[trio_zmq.Context]:
    """A context whose sockets are closed (linger 0) and which is terminated
    after the test.  A plain fixture, so that it serves every event loop."""
    context = trio_zmq.Context(linger=0)
    try:
        yield context
    finally:
        context.close_sockets(linger=0)
        # Bounded: a socket the test left where close_sockets() cannot see it
        # (zmq.Socket(ctx.zmq_context, ...), another thread) must fail the
        # test, not hang the suite in zmq_ctx_term.
        term = threading.Thread(target=context.zmq_context.term, daemon=True)
        term.start()
        term.join(TERM_BOUND)
        assert not term.is_alive(), (
            f"zmq_ctx_term() still waits after {TERM_BOUND} s: the test left a socket "
            "open that close_sockets() cannot see"
        )


@pytest.fixture
def ipc_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="trio-zmq-test-") as path:
        yield path


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def endpoint(transport: str, ipc_dir: str) -> str:
    """A fresh endpoint *prefix* for ``transport``; use :func:`bind` with it."""
    return fresh_endpoint(transport, ipc_dir)


def fresh_endpoint(transport: str, ipc_dir: str) -> str:
    """A new endpoint; for tcp only ``tcp://127.0.0.1`` (the port comes from bind)."""
    n = next(_names)
    if transport == "inproc":
        return f"inproc://test-{os.getpid()}-{n}"
    if transport == "ipc":
        return f"ipc://{ipc_dir}/s{n}"
    if transport == "tcp":
        return "tcp://127.0.0.1"
    raise ValueError(transport)


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


def open_fds() -> int:
    return len(os.listdir(f"/proc/{os.getpid()}/fd"))


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


@pytest.fixture
def peer() -> Iterator[type[Peer]]:
    """Start peers with ``peer("push-seq", address, "1000")``; killed at teardown."""
    started: list[Peer] = []

    class _TrackedPeer(Peer):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)

    yield _TrackedPeer
    for p in started:
        p.kill()


# ----------------------------------------------------------------------
# Helpers shared by the test modules
# ----------------------------------------------------------------------


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


AnySocket: TypeAlias = trio_zmq.Socket | zmq.Socket[Any]


@pytest.fixture
def inproc() -> str:
    """A fresh inproc endpoint."""
    return fresh_endpoint("inproc", "")


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


async def recv_frames(sock: trio_zmq.Socket) -> list[bytes]:
    """recv_multipart under a liveness bound."""
    with anyio.fail_after(5):
        return await sock.recv_multipart()


# ----------------------------------------------------------------------
# Hypothesis profiles: TRIO_ZMQ_HYPOTHESIS_PROFILE=dev|ci (ci when CI is set)
# ----------------------------------------------------------------------

from hypothesis import HealthCheck, settings  # noqa: E402

_COMMON = {
    # Real I/O: example run times vary too much for deadlines to mean much.
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("dev", max_examples=15, **_COMMON)  # type: ignore[arg-type]
settings.register_profile(
    "ci",
    max_examples=40,
    derandomize=True,
    print_blob=True,
    **_COMMON,  # type: ignore[arg-type]
)
PROFILE = os.environ.get("TRIO_ZMQ_HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)


def pytest_configure(config: pytest.Config) -> None:
    if PROFILE == "ci":
        # The ci profile prints hypothesis's per-test statistics.
        config.option.hypothesis_show_statistics = True


def pytest_report_header() -> str:
    return f"hypothesis profile: {PROFILE}"
