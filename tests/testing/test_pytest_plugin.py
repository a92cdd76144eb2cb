"""The pytest plugin, ``trio_zmq._pytest_plugin``: registered by its entry
point, with the fixtures ``zmq_context``, ``zmq_ipc_dir``,
``zmq_socket_pair`` and ``zmq_faulty_link``.  Real libzmq sockets; each
fixture's context is closed, its directory removed and its links closed
once the test is over.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from types import ModuleType

import pytest
import trio
import zmq

import trio_zmq
from trio_zmq._pytest_plugin import LinkFactory, PairFactory
from trio_zmq.testing import FaultyLink, unique_endpoint

from tests.conftest import TRANSPORTS
from tests.helpers import bind

#: Bound on every wait for real I/O in this file.
PATIENCE = 10


Closable = trio_zmq.Context | str | FaultyLink


@pytest.fixture
def check_closed_after_test() -> Iterator[list[Closable]]:
    """Put a context, a directory or a link in the list: checked once the
    test's other fixtures are torn down (fixtures set up first are torn
    down last)."""
    things: list[Closable] = []
    yield things
    for thing in things:
        if isinstance(thing, str):
            assert not os.path.exists(thing), f"{thing} still exists"
        elif isinstance(thing, FaultyLink):
            assert thing.statistics().open == 0, f"{thing!r} has connections open"
            port = int(thing.endpoint.rpartition(":")[2])
            with pytest.raises(ConnectionRefusedError), socket.socket() as probe:
                probe.connect(("127.0.0.1", port))
        else:
            assert thing.closed, f"{thing!r} still open"


def test_plugin_is_registered_by_its_entry_point(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("trio_zmq")
    assert isinstance(plugin, ModuleType)
    assert plugin.__name__ == "trio_zmq._pytest_plugin"


async def test_zmq_context_fixture(
    check_closed_after_test: list[Closable], zmq_context: trio_zmq.Context
) -> None:
    check_closed_after_test.append(zmq_context)
    assert isinstance(zmq_context, trio_zmq.Context)
    assert not zmq_context.closed
    pull = zmq_context.socket(zmq.PULL)
    assert pull.linger == 0
    push = zmq_context.socket(zmq.PUSH)
    push.connect(bind(pull, unique_endpoint("inproc")))
    await push.send(b"via the fixture")
    with trio.fail_after(PATIENCE):
        assert await pull.recv() == b"via the fixture"


def test_zmq_ipc_dir_fixture(check_closed_after_test: list[Closable], zmq_ipc_dir: str) -> None:
    check_closed_after_test.append(zmq_ipc_dir)
    assert os.path.isdir(zmq_ipc_dir)
    assert os.listdir(zmq_ipc_dir) == []


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_zmq_socket_pair_fixture(
    check_closed_after_test: list[Closable],
    zmq_socket_pair: PairFactory,
    zmq_context: trio_zmq.Context,
    zmq_ipc_dir: str,
    transport: str,
) -> None:
    check_closed_after_test.extend((zmq_context, zmq_ipc_dir))
    async with zmq_socket_pair(zmq.PULL, zmq.PUSH, transport) as (pull, push):
        assert pull.context is zmq_context
        if transport == "ipc":
            assert pull.get_string(zmq.LAST_ENDPOINT).startswith(f"ipc://{zmq_ipc_dir}/")
        await push.send_multipart([b"a", b"", b"c"])
        with trio.fail_after(PATIENCE):
            assert await pull.recv_multipart() == [b"a", b"", b"c"]
    assert pull.closed
    assert push.closed
    async with zmq_socket_pair(zmq.PUB, zmq.SUB, transport, timeout=PATIENCE) as (pub, sub):
        await pub.send(b"first")  # synchronised: not dropped
        with trio.fail_after(PATIENCE):
            assert await sub.recv() == b"first"


async def test_zmq_faulty_link_fixture(
    check_closed_after_test: list[Closable],
    zmq_faulty_link: LinkFactory,
    zmq_context: trio_zmq.Context,
) -> None:
    """Two links to one PULL: one is cut and restored (libzmq reconnects),
    the other left stalled with a connection open; both are closed after
    the test.  A bad target raises at the call."""
    pull = zmq_context.socket(zmq.PULL)
    address = bind(pull, "tcp://127.0.0.1")
    cut, stalled = await zmq_faulty_link(address), await zmq_faulty_link(address)
    check_closed_after_test.extend([cut, stalled])
    assert cut.endpoint != stalled.endpoint
    push, left = zmq_context.socket(zmq.PUSH), zmq_context.socket(zmq.PUSH)
    push.connect(cut.endpoint)
    left.connect(stalled.endpoint)
    for sock in (push, left):
        await sock.send(b"through")
        with trio.fail_after(PATIENCE):
            assert await pull.recv() == b"through"
    cut.cut()
    await trio.sleep(0.1)  # libzmq sees the reset
    await push.send(b"queued")  # waits in the PUSH socket
    cut.restore()  # libzmq reconnects by itself
    with trio.fail_after(PATIENCE):
        assert await pull.recv() == b"queued"
    stalled.stall()
    assert stalled.statistics().open == 1
    with pytest.raises(ValueError, match="target must be tcp://HOST:PORT"):
        await zmq_faulty_link("ipc:///tmp/not-tcp")
