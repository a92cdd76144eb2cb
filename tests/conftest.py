"""Shared fixtures: a context, connected socket pairs over every transport,
and real peer processes.  Every socket here is a real libzmq socket."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeAlias

import pytest
import trio
import zmq

import trio_zmq

TRANSPORTS = ["inproc", "ipc", "tcp"]
PEER_SCRIPT = Path(__file__).with_name("peer.py")
_names = itertools.count()


@pytest.fixture
async def ctx() -> AsyncIterator[trio_zmq.Context]:
    async with trio_zmq.Context(linger=0) as context:
        yield context


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
    with trio.fail_after(5):
        while not trio_zmq.probe(sock, events):  # noqa: ASYNC110 - see docstring
            await trio.sleep(0.001)


async def until_readable(sock: AnySocket) -> None:
    await until_ready(sock, zmq.POLLIN)


async def until_writable(sock: AnySocket) -> None:
    await until_ready(sock, zmq.POLLOUT)


async def recv_frames(sock: trio_zmq.Socket) -> list[bytes]:
    """recv_multipart under a liveness bound."""
    with trio.fail_after(5):
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
