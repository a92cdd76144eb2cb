"""Property: a monitor loses, duplicates and reorders nothing, whatever the
reader does and however the engine is scheduled.

Hypothesis draws a program of clients connecting (over tcp or ipc) and
leaving, and of the reader taking what is there now, taking nothing
(a receive cancelled before it starts) or not reading at all, under a
chaos schedule from ``trio_zmq.testing``.  In the end every client has
left and the reader takes events until it has seen every departure.  Then
the server's events must tell each connection's story once and in order:
ACCEPTED, HANDSHAKE_SUCCEEDED, DISCONNECTED, per file descriptor, for as
many connections as there were clients.  The parsing of libzmq's frames is
checked on its own, against the format libzmq documents.
"""

from __future__ import annotations

import functools
import struct
import tempfile
from collections import Counter

import anyio
import pytest
import zmq
from hypothesis import given
from hypothesis import strategies as st

import trio_zmq
from trio_zmq.testing import ChaosSchedule, chaos_mode, chaos_schedules, unique_endpoint

from tests.helpers import bind

E = zmq.Event
WATCHED = E.ACCEPTED | E.HANDSHAKE_SUCCEEDED | E.DISCONNECTED
ACTIONS = ("connect", "leave", "read", "read_cancelled", "wait")


async def run_program(
    actions: list[str], transport: str, schedule: ChaosSchedule
) -> tuple[int, list[trio_zmq.MonitorEvent]]:
    """Run ``actions``; return the number of clients and the events read."""
    seen: list[trio_zmq.MonitorEvent] = []
    clients = 0
    with tempfile.TemporaryDirectory(prefix="trio-zmq-test-") as ipc_dir:
        async with trio_zmq.Context(linger=0) as ctx:
            server = ctx.socket(zmq.ROUTER)
            address = bind(server, unique_endpoint(transport, ipc_dir))
            open_clients: list[trio_zmq.Socket] = []
            with anyio.fail_after(30), chaos_mode(schedule):
                async with server.monitor(WATCHED) as events:
                    for action in actions:
                        if action == "connect":
                            client = ctx.socket(zmq.DEALER)
                            client.connect(address)
                            await client.send(b"hello")
                            await server.recv_multipart()
                            open_clients.append(client)
                            clients += 1
                        elif action == "leave" and open_clients:
                            open_clients.pop(0).close()
                        elif action == "read":
                            while True:
                                try:
                                    seen.append(events.receive_nowait())
                                except anyio.WouldBlock:
                                    break
                        elif action == "read_cancelled":
                            with anyio.CancelScope() as scope:
                                scope.cancel()
                                seen.append(await events.receive())
                        elif action == "wait":
                            await anyio.sleep(0.001)
                    for client in open_clients:
                        client.close()
                    while sum(e.event == E.DISCONNECTED for e in seen) < clients:
                        seen.append(await events.receive())
    return clients, seen


def check_story(clients: int, seen: list[trio_zmq.MonitorEvent]) -> None:
    counts = Counter(event.event for event in seen)
    assert counts == Counter(
        {E.ACCEPTED: clients, E.HANDSHAKE_SUCCEEDED: clients, E.DISCONNECTED: clients}
    ) or (clients == 0 and not seen), seen
    connected: set[int] = set()
    handshakes_due = 0
    for event in seen:
        if event.event == E.ACCEPTED:
            assert event.value not in connected, seen  # the fd is in use
            connected.add(event.value)
            handshakes_due += 1
        elif event.event == E.HANDSHAKE_SUCCEEDED:
            assert handshakes_due > 0, seen
            handshakes_due -= 1
        else:
            assert event.value in connected, seen
            connected.remove(event.value)
    assert not connected
    assert handshakes_due == 0


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
@given(
    actions=st.lists(st.sampled_from(ACTIONS), max_size=12),
    transport=st.sampled_from(["tcp", "ipc"]),
    schedule=chaos_schedules(max_decisions=16),
)
def test_the_story_of_every_connection(
    backend: str, actions: list[str], transport: str, schedule: ChaosSchedule
) -> None:
    clients, seen = anyio.run(
        functools.partial(run_program, actions, transport, schedule), backend=backend
    )
    check_story(clients, seen)


@given(
    event=st.sampled_from([e for e in E if 0 < e <= 0xFFFF]),
    value=st.integers(-(2**31), 2**31 - 1),
    endpoint=st.text(max_size=40),
)
def test_frames_parse_as_libzmq_writes_them(event: zmq.Event, value: int, endpoint: str) -> None:
    # zmq_socket_monitor(3): a uint16 event and a uint32 value, native byte
    # order, then the endpoint.  A value of 0xffffffff (a retired fd) is -1.
    header = struct.pack("=HI", int(event), value & 0xFFFFFFFF)
    parsed = trio_zmq.MonitorEvent.from_frames([header, endpoint.encode()])
    assert parsed == trio_zmq.MonitorEvent(event, value, endpoint)
    assert type(parsed.event) is zmq.Event


@pytest.mark.parametrize(
    "frames", [[], [b"\0" * 6], [b"\0" * 5, b"x"], [b"\0" * 6, b"x", b"y"], [b"\0" * 7, b""]]
)
def test_other_frames_are_refused(frames: list[bytes]) -> None:
    with pytest.raises(ValueError, match="not a libzmq monitor message"):
        trio_zmq.MonitorEvent.from_frames(frames)


def test_events_are_frozen() -> None:
    event = trio_zmq.MonitorEvent(E.CONNECTED, 7, "tcp://127.0.0.1:5555")
    with pytest.raises(AttributeError):
        event.value = 8  # type: ignore[misc]
    assert hash(event) == hash(trio_zmq.MonitorEvent(E.CONNECTED, 7, "tcp://127.0.0.1:5555"))
