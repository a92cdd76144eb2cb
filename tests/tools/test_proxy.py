"""The proxy (``trio_zmq.proxy``, ``proxy_steerable``, ``Proxy``): libzmq's
proxy in the caller's task, with trio's cancel rule.

Real libzmq sockets over every transport, real peer processes
(``tests/peer.py``) on both sides of the proxy, libzmq's own
``zmq.proxy_steerable`` as the reference for the statistics, and a property
test with the project's kit: random traffic both ways through a proxy that
is paused, resumed, cancelled and restarted at random, under a drawn chaos
schedule, must deliver every message once, whole and in order per sender.
The tests marked ``ON_EVERY_LOOP`` run on trio, asyncio and trio with the
engine's anyio path (see ``tests/conftest.py``); the property test does the
same by hand (it drives the loop from ``@given``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import anyio
import anyio.abc
import anyio.lowlevel
import anyio.to_thread
import pytest
import zmq
import zmq.asyncio
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import trio_zmq
from trio_zmq._core import _backend
from trio_zmq._tools import _proxy
from trio_zmq.testing import (
    ChaosSchedule,
    chaos_mode,
    chaos_schedules,
    multipart_messages,
    sync_pub_sub,
    unique_endpoint,
)

from tests.conftest import FLAVOURS, ON_EVERY_LOOP
from tests.helpers import (
    Peer,
    assert_hypothesis_catches,
    assert_idle,
    bind,
    seq,
    unseq,
    until_readable,
)

EXAMPLE = Path(__file__).parents[2] / "examples" / "proxy_broker.py"


def message(n: int) -> list[bytes]:
    """Message ``n``: three frames (the last empty for every third n), each
    checkable against the first."""
    return [seq(n), b"%d:a" % n, b"%d:b;" % n * (n % 3)]


def size(frames: list[bytes]) -> int:
    return sum(len(frame) for frame in frames)


@dataclasses.dataclass
class Streamer:
    """``producer -> frontend (PULL) | proxy | backend (PUSH) -> consumer``."""

    producer: trio_zmq.Socket
    frontend: trio_zmq.Socket
    backend: trio_zmq.Socket
    consumer: trio_zmq.Socket


def streamer(
    ctx: trio_zmq.Context,
    transport: str = "inproc",
    ipc_dir: str | None = None,
    backend_hwm: int | None = None,
) -> Streamer:
    """Connected; ``backend_hwm`` on the backend and the consumer."""
    s = Streamer(
        ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
    )
    if backend_hwm is not None:
        for sock in (s.backend, s.consumer):
            sock.sndhwm = sock.rcvhwm = backend_hwm
    s.producer.connect(bind(s.frontend, unique_endpoint(transport, ipc_dir)))
    s.consumer.connect(bind(s.backend, unique_endpoint(transport, ipc_dir)))
    return s


@contextlib.asynccontextmanager
async def running(proxy: trio_zmq.Proxy) -> AsyncIterator[trio_zmq.Proxy]:
    """Run ``proxy`` in a task group of the test's; terminate it at the end."""
    async with anyio.create_task_group() as group:
        await group.start(proxy.run)
        yield proxy
        if proxy.running:
            proxy.terminate()


async def proxy_life(
    proxy: trio_zmq.Proxy, *, task_status: anyio.abc.TaskStatus[anyio.CancelScope]
) -> None:
    """Run ``proxy`` in a cancel scope of its own; ``group.start`` returns
    that scope once the proxy runs."""

    class Started:
        def started(self, value: object = None) -> None:
            task_status.started(scope)

    with anyio.CancelScope() as scope:
        await proxy.run(task_status=Started())


async def until_stopped(proxy: trio_zmq.Proxy) -> None:
    """Wait (bounded by the caller) until ``proxy.run()`` has ended."""
    while proxy.running:
        await anyio.lowlevel.checkpoint()


async def ticks(count: int) -> None:
    """Let the other tasks run ``count`` times."""
    for _ in range(count):
        await anyio.lowlevel.checkpoint()


async def receive_all(sock: trio_zmq.Socket, count: int) -> list[list[bytes]]:
    received: list[list[bytes]] = []
    with anyio.fail_after(10):
        while len(received) < count:
            received += await sock.recv_batch(count - len(received))
    return received


def nothing_left(*socks: trio_zmq.Socket) -> None:
    for sock in socks:
        with pytest.raises(trio_zmq.WouldBlock):
            sock.recv_multipart_nowait()


# ----------------------------------------------------------------------
# The patterns: streamer, broker, forwarder, capture
# ----------------------------------------------------------------------


@ON_EVERY_LOOP
async def test_streamer_forwards_multipart_in_order(
    ctx: trio_zmq.Context, transport: str, ipc_dir: str
) -> None:
    s = streamer(ctx, transport, ipc_dir)
    proxy = trio_zmq.Proxy(s.frontend, s.backend)
    async with running(proxy):
        for n in range(300):
            await s.producer.send_multipart(message(n))
        assert await receive_all(s.consumer, 300) == [message(n) for n in range(300)]
    expected_bytes = sum(size(message(n)) for n in range(300))
    assert proxy.statistics() == trio_zmq.ProxyStatistics(
        frontend_frames_in=900,
        frontend_bytes_in=expected_bytes,
        backend_frames_out=900,
        backend_bytes_out=expected_bytes,
    )
    assert_idle(s.frontend, s.backend)


async def _serve_requests(worker: trio_zmq.Socket, name: bytes) -> None:
    while True:
        request = await worker.recv_multipart()
        await worker.send_multipart([name, *request])


@ON_EVERY_LOOP
async def test_broker_replies_reach_the_right_client(
    ctx: trio_zmq.Context, transport: str, ipc_dir: str
) -> None:
    """ROUTER frontend, DEALER backend: REQ clients, REP workers."""
    frontend, backend = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    frontend_address = bind(frontend, unique_endpoint(transport, ipc_dir))
    backend_address = bind(backend, unique_endpoint(transport, ipc_dir))
    replies: dict[int, list[list[bytes]]] = {}

    async def client(number: int) -> None:
        sock = ctx.socket(zmq.REQ)
        sock.connect(frontend_address)
        for index in range(5):
            request = [b"client %d" % number, b"request %d" % index]
            await sock.send_multipart(request)
            reply = await sock.recv_multipart()
            assert reply[1:] == request, (number, reply)
            replies.setdefault(number, []).append(reply)

    with anyio.fail_after(10):
        async with running(trio_zmq.Proxy(frontend, backend)), anyio.create_task_group() as group:
            for number in range(3):
                worker = ctx.socket(zmq.REP)
                worker.connect(backend_address)
                group.start_soon(_serve_requests, worker, b"worker %d" % number)
            async with anyio.create_task_group() as clients:
                for number in range(4):
                    clients.start_soon(client, number)
            group.cancel_scope.cancel()
    assert sorted(replies) == [0, 1, 2, 3]
    assert all(len(r) == 5 for r in replies.values())


@ON_EVERY_LOOP
async def test_broker_with_a_peer_process_worker(ctx: trio_zmq.Context, peer: type[Peer]) -> None:
    """The worker is another process (blocking pyzmq DEALER echoing whole
    envelopes): what the proxy passes on must route back unchanged."""
    frontend, backend = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    frontend_address = bind(frontend, "tcp://127.0.0.1")
    worker = peer("dealer-echo", bind(backend, "tcp://127.0.0.1"), "12")

    async def client(number: int) -> None:
        sock = ctx.socket(zmq.REQ)
        sock.connect(frontend_address)
        for index in range(4):
            request = [b"%d" % number, b"%d" % index, b"x" * (number * 100)]
            await sock.send_multipart(request)
            assert await sock.recv_multipart() == request

    with anyio.fail_after(20):
        async with running(trio_zmq.Proxy(frontend, backend)), anyio.create_task_group() as group:
            for number in range(3):
                group.start_soon(client, number)
        await anyio.to_thread.run_sync(worker.wait)


@ON_EVERY_LOOP
async def test_pipeline_between_peer_processes(ctx: trio_zmq.Context, peer: type[Peer]) -> None:
    frontend, backend = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
    producer = peer("push-seq", bind(frontend, "tcp://127.0.0.1"), "3000")
    consumer = peer("pull-count", bind(backend, "tcp://127.0.0.1"), "3000")
    with anyio.fail_after(30):
        async with running(trio_zmq.Proxy(frontend, backend)):
            out = await anyio.to_thread.run_sync(consumer.wait)
        await anyio.to_thread.run_sync(producer.wait)
    assert out.split() == [seq(n).hex() for n in range(3000)]


@ON_EVERY_LOOP
async def test_forwarder_passes_subscriptions_upstream(ctx: trio_zmq.Context, inproc: str) -> None:
    """XSUB frontend, XPUB backend: data flows down, subscriptions up."""
    frontend, backend = ctx.socket(zmq.XSUB), ctx.socket(zmq.XPUB)
    publisher, subscriber = ctx.socket(zmq.XPUB), ctx.socket(zmq.SUB)
    publisher.connect(bind(frontend, inproc))
    subscriber.connect(bind(backend, unique_endpoint("inproc")))
    with anyio.fail_after(5):
        async with running(trio_zmq.Proxy(frontend, backend)):
            subscriber.subscribe(b"a")
            # The publisher (an XPUB, so that it sees them) gets the
            # subscription through the proxy.
            assert await publisher.recv() == b"\x01a"
            for frames in ([b"a1"], [b"b1"], [b"a2", b"more"], [b"b2"], [b"a-end"]):
                await publisher.send_multipart(frames)
            got = [await subscriber.recv_multipart() for _ in range(3)]
            assert got == [[b"a1"], [b"a2", b"more"], [b"a-end"]]
            subscriber.unsubscribe(b"a")
            assert await publisher.recv() == b"\x00a"


@ON_EVERY_LOOP
async def test_capture_gets_every_forwarded_message(ctx: trio_zmq.Context) -> None:
    s = streamer(ctx)
    capture, tap = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
    tap.connect(bind(capture, unique_endpoint("inproc")))
    async with running(trio_zmq.Proxy(s.frontend, s.backend, capture)):
        for n in range(200):
            await s.producer.send_multipart(message(n))
        assert await receive_all(s.consumer, 200) == [message(n) for n in range(200)]
        assert await receive_all(tap, 200) == [message(n) for n in range(200)]


@ON_EVERY_LOOP
async def test_capture_sees_both_directions(ctx: trio_zmq.Context) -> None:
    """A PUB capture on a broker: requests (with their envelopes) and replies."""
    frontend, backend = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    client, worker = ctx.socket(zmq.REQ), ctx.socket(zmq.REP)
    client.connect(bind(frontend, unique_endpoint("inproc")))
    worker.connect(bind(backend, unique_endpoint("inproc")))
    capture, tap = ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
    tap.connect(bind(capture, unique_endpoint("inproc")))
    tap.subscribe(b"")
    with anyio.fail_after(5):
        await sync_pub_sub(capture, tap)
        async with running(trio_zmq.Proxy(frontend, backend, capture)):
            await client.send(b"question")
            assert await worker.recv() == b"question"
            await worker.send(b"answer")
            assert await client.recv() == b"answer"
            request, reply = await tap.recv_multipart(), await tap.recv_multipart()
    assert request[1:] == [b"", b"question"]
    assert reply == [request[0], b"", b"answer"]  # the same envelope back


# ----------------------------------------------------------------------
# Cancellation: a message is forwarded whole or stays in its source
# ----------------------------------------------------------------------


@ON_EVERY_LOOP
async def test_cancel_and_restart_mid_stream_loses_nothing(ctx: trio_zmq.Context) -> None:
    """Cancel the proxy again and again while multipart messages stream
    through, restart it each time: every message arrives once, whole, in
    order.  The default high-water marks let the proxy run whole bursts
    unchecked, so cancellations also land while it holds a message."""
    s = streamer(ctx)
    proxy = trio_zmq.Proxy(s.frontend, s.backend)
    total = 4000
    received: list[list[bytes]] = []
    restarts = 0

    async def produce() -> None:
        # A backlog first, so that the proxy runs whole bursts unchecked and
        # outpaces the consumer, which takes 7 at a time: it meets a full
        # backend during bursts and holds what it refused.
        sent = 0
        with contextlib.suppress(trio_zmq.WouldBlock):
            while sent < total:
                s.producer.send_multipart_nowait(message(sent))
                sent += 1
        for n in range(sent, total):
            await s.producer.send_multipart(message(n))

    async def consume() -> None:
        while len(received) < total:
            received.extend(await s.consumer.recv_batch(7))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            group.start_soon(produce)
            group.start_soon(consume)
            while len(received) < total:
                target = len(received) + 1 + (restarts * 7919) % 400
                async with anyio.create_task_group() as life:
                    await life.start(proxy.run)
                    while len(received) < min(target, total):
                        await anyio.lowlevel.checkpoint()
                    life.cancel_scope.cancel()  # a cancellation, not terminate()
                restarts += 1
    assert restarts > 5
    assert [unseq(frames[0]) for frames in received] == list(range(total))
    assert received == [message(n) for n in range(total)]
    nothing_left(s.consumer, s.frontend)
    stats = proxy.statistics()
    assert stats.frontend_frames_in == stats.backend_frames_out == 3 * total


@contextlib.contextmanager
def small_bursts(burst: int) -> Iterator[None]:
    """Bursts of ``burst`` messages, so that a few messages are enough to
    make a direction skip its checks (see trio_zmq._tools._proxy)."""
    with mock.patch.object(_proxy, "BURST", burst):
        yield


async def until_holding(proxy: trio_zmq.Proxy) -> None:
    """Wait until the proxy's forward direction holds a refused message."""
    direction = proxy._forward
    assert direction is not None
    with anyio.fail_after(5):
        while not direction.held:  # noqa: ASYNC110 - the proxy's state
            await anyio.sleep(0.001)


def prefill(s: Streamer, total: int) -> None:
    """Queue ``total`` messages in the frontend before the proxy runs."""
    for n in range(total):
        s.producer.send_multipart_nowait(message(n))


@ON_EVERY_LOOP
async def test_cancelled_while_holding_delivers_the_held_message(ctx: trio_zmq.Context) -> None:
    """The backend fills up during an unchecked burst: the direction holds
    the message it refused.  Cancelled then, it goes on sending it (shielded)
    until the consumer makes room, and only then honours the cancel."""
    s = streamer(ctx, backend_hwm=4)
    proxy = trio_zmq.Proxy(s.frontend, s.backend)
    total = 60
    prefill(s, total)
    with small_bursts(2), anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            scope = await group.start(proxy_life, proxy)
            await until_holding(proxy)
            scope.cancel()
            await ticks(20)
            running_after_cancel = proxy.running
            assert running_after_cancel  # still sending what it holds
            received = await s.consumer.recv_batch(100)  # room for it
            await until_stopped(proxy)
            received += await receive_all(s.consumer, 1)  # the held one, delivered
            scope = await group.start(proxy_life, proxy)
            received += await receive_all(s.consumer, total - len(received))
            scope.cancel()
    assert received == [message(n) for n in range(total)]
    nothing_left(s.consumer, s.frontend)


async def run_expecting(
    proxy: trio_zmq.Proxy,
    error: type[Exception],
    caught: list[Exception],
    *,
    task_status: anyio.abc.TaskStatus[None],
) -> None:
    """``proxy.run()``, which must raise ``error``; keep it in ``caught``."""
    with pytest.raises(error) as info:
        await proxy.run(task_status=task_status)
    caught.append(info.value)


@ON_EVERY_LOOP
async def test_flush_timeout_hands_back_the_held_message(ctx: trio_zmq.Context) -> None:
    """Nobody reads the backend: a cancelled proxy holding a message gives up
    after flush_timeout and raises ProxyFlushTimeout with the message, which
    has left the frontend: nothing is lost without a word."""
    s = streamer(ctx, backend_hwm=4)
    proxy = trio_zmq.Proxy(s.frontend, s.backend, flush_timeout=0.05)
    total = 40
    prefill(s, total)
    caught: list[Exception] = []
    with small_bursts(2), anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            await group.start(run_expecting, proxy, trio_zmq.ProxyFlushTimeout, caught)
            await until_holding(proxy)
            proxy.terminate()
            await until_stopped(proxy)
        [error] = caught
        assert isinstance(error, trio_zmq.ProxyFlushTimeout)
        [(destination, unsent)] = error.unsent
        assert destination is s.backend
        held = unseq(unsent[0])
        assert unsent == message(held)
        async with running(proxy):
            received = await receive_all(s.consumer, total - 1)
    assert received == [message(n) for n in range(total) if n != held]
    nothing_left(s.consumer, s.frontend)


@ON_EVERY_LOOP
async def test_an_empty_backend_is_never_taken_from(ctx: trio_zmq.Context, inproc: str) -> None:
    """A PUSH backend without peers cannot take anything: the proxy takes
    nothing from the frontend, and a cancellation is immediate."""
    frontend, backend, producer = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH), ctx.socket(zmq.PUSH)
    producer.connect(bind(frontend, inproc))
    backend.bind(unique_endpoint("inproc"))
    proxy = trio_zmq.Proxy(frontend, backend, flush_timeout=100)
    await producer.send(b"stays")
    with anyio.fail_after(5):
        async with running(proxy):
            await until_readable(frontend)
            await ticks(20)
    assert await frontend.recv() == b"stays"
    assert proxy.statistics() == trio_zmq.ProxyStatistics()


# ----------------------------------------------------------------------
# Steering: the handle and the control socket
# ----------------------------------------------------------------------


async def assert_paused(s: Streamer, proxy: trio_zmq.Proxy) -> None:
    """Messages reach the frontend and stay there; nothing is counted."""
    before = proxy.statistics()
    await s.producer.send_multipart([b"during", b"pause"])
    await until_readable(s.frontend)
    await ticks(20)
    assert trio_zmq.probe(s.frontend, zmq.POLLIN)
    assert not trio_zmq.probe(s.consumer, zmq.POLLIN)
    assert proxy.statistics() == before


@ON_EVERY_LOOP
async def test_pause_resume_statistics_through_the_handle(ctx: trio_zmq.Context) -> None:
    s = streamer(ctx)
    proxy = trio_zmq.Proxy(s.frontend, s.backend)
    with anyio.fail_after(5):
        async with running(proxy):
            await s.producer.send_multipart([b"one", b"22"])
            assert await s.consumer.recv_multipart() == [b"one", b"22"]
            assert proxy.statistics() == trio_zmq.ProxyStatistics(
                frontend_frames_in=2,
                frontend_bytes_in=5,
                backend_frames_out=2,
                backend_bytes_out=5,
            )
            proxy.pause()
            paused = proxy.paused
            assert paused
            await assert_paused(s, proxy)
            proxy.resume()
            assert not proxy.paused
            assert await s.consumer.recv_multipart() == [b"during", b"pause"]
            assert proxy.statistics().backend_bytes_out == 16
            proxy.terminate()
            proxy.terminate()  # idempotent while it ends
    assert not proxy.running
    with pytest.raises(RuntimeError, match="not running"):
        proxy.terminate()
    # It runs again, and keeps counting.
    async with running(proxy):
        await s.producer.send(b"again")
        assert await s.consumer.recv() == b"again"
    assert proxy.statistics().frontend_frames_in == 5


async def command(client: trio_zmq.Socket, verb: bytes) -> list[bytes]:
    await client.send(verb)
    with anyio.fail_after(5):
        return await client.recv_multipart()


def steered(
    ctx: trio_zmq.Context, control_type: int, peer_type: int
) -> tuple[Streamer, trio_zmq.Proxy, trio_zmq.Socket]:
    """A streamer, its proxy with a control socket, and the control's peer."""
    s = streamer(ctx)
    control, peer = ctx.socket(control_type), ctx.socket(peer_type)
    peer.connect(bind(control, unique_endpoint("inproc")))
    return s, trio_zmq.Proxy(s.frontend, s.backend, control=control), peer


@ON_EVERY_LOOP
async def test_control_socket_rep(ctx: trio_zmq.Context) -> None:
    """libzmq's commands over a REP control socket: each gets a reply."""
    s, proxy, client = steered(ctx, zmq.REP, zmq.REQ)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            await group.start(proxy.run)
            stats = trio_zmq.ProxyStatistics.from_frames(await command(client, b"STATISTICS"))
            assert stats == trio_zmq.ProxyStatistics()
            await s.producer.send_multipart([b"abc", b"de"])
            assert await s.consumer.recv_multipart() == [b"abc", b"de"]
            assert await command(client, b"PAUSE") == [b""]
            assert proxy.paused
            await assert_paused(s, proxy)
            assert await command(client, b"RESUME") == [b""]
            assert await s.consumer.recv_multipart() == [b"during", b"pause"]
            assert await command(client, b"NO SUCH COMMAND") == [b""]  # ignored, as libzmq
            reply = await command(client, b"STATISTICS")
            assert len(reply) == 8
            assert all(len(frame) == 8 for frame in reply)
            assert trio_zmq.ProxyStatistics.from_frames(reply) == trio_zmq.ProxyStatistics(
                frontend_frames_in=4,
                frontend_bytes_in=16,
                backend_frames_out=4,
                backend_bytes_out=16,
            )
            assert reply[0] == (4).to_bytes(8, sys.byteorder)
            assert await command(client, b"TERMINATE") == [b""]
        # run() returned: the task group ended without being cancelled.
    assert not proxy.running


@ON_EVERY_LOOP
async def test_control_socket_pair(ctx: trio_zmq.Context) -> None:
    """Over PAIR, only STATISTICS is answered (libzmq's rule)."""
    s, proxy, peer = steered(ctx, zmq.PAIR, zmq.PAIR)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            await group.start(proxy.run)
            await peer.send(b"PAUSE")
            while not proxy.paused:  # noqa: ASYNC110 - the proxy's state
                await anyio.sleep(0.001)
            await assert_paused(s, proxy)
            await peer.send(b"RESUME")
            assert await s.consumer.recv_multipart() == [b"during", b"pause"]
            await peer.send(b"STATISTICS")
            stats = trio_zmq.ProxyStatistics.from_frames(await peer.recv_multipart())
            assert stats.backend_frames_out == 2
            assert stats.backend_bytes_out == 11
            await peer.send(b"TERMINATE")
        # run() returned.
    assert not trio_zmq.probe(peer, zmq.POLLIN)  # PAUSE, RESUME, TERMINATE: no reply


@ON_EVERY_LOOP
async def test_proxy_steerable_returns_on_terminate(ctx: trio_zmq.Context) -> None:
    s = streamer(ctx)
    control, client = ctx.socket(zmq.REP), ctx.socket(zmq.REQ)
    client.connect(bind(control, unique_endpoint("inproc")))
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(trio_zmq.proxy_steerable, s.frontend, s.backend, None, control)
            await s.producer.send(b"through")
            assert await s.consumer.recv() == b"through"
            assert await command(client, b"TERMINATE") == [b""]
        # proxy_steerable returned: the task group ended by itself.


def libzmq_broker_statistics(requests: list[list[bytes]], replies: list[bytes]) -> list[bytes]:
    """The same traffic through libzmq's own proxy (zmq.proxy_steerable in
    a thread, blocking pyzmq around it); its STATISTICS reply."""
    zctx: zmq.Context[Any] = zmq.Context()
    try:
        frontend, backend = zctx.socket(zmq.ROUTER), zctx.socket(zmq.DEALER)
        control, steer = zctx.socket(zmq.PAIR), zctx.socket(zmq.PAIR)
        frontend.bind("inproc://reference-frontend")
        backend.bind("inproc://reference-backend")
        control.bind("inproc://reference-control")
        steer.connect("inproc://reference-control")
        thread = threading.Thread(
            target=zmq.proxy_steerable, args=(frontend, backend, None, control)
        )
        thread.start()
        client, worker = zctx.socket(zmq.REQ), zctx.socket(zmq.REP)
        for sock in (client, worker, steer):
            sock.rcvtimeo = 5000
        client.connect("inproc://reference-frontend")
        worker.connect("inproc://reference-backend")
        for request, reply in zip(requests, replies, strict=True):
            client.send_multipart(request)
            worker.recv_multipart()
            worker.send(reply)
            client.recv()
        steer.send(b"STATISTICS")
        stats: list[bytes] = steer.recv_multipart()
        steer.send(b"TERMINATE")
        thread.join(5)
        return stats
    finally:
        zctx.destroy(linger=0)


@ON_EVERY_LOOP
async def test_statistics_match_libzmq(ctx: trio_zmq.Context) -> None:
    """The same broker traffic through libzmq's proxy and ours: the same
    eight numbers (libzmq counts frames, envelope frames included)."""
    requests = [[b"r" * n, b"x" * (2 * n)] for n in range(6)]
    replies = [b"y" * (3 * n + 1) for n in range(6)]
    reference = await anyio.to_thread.run_sync(libzmq_broker_statistics, requests, replies)
    frontend, backend = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    client, worker = ctx.socket(zmq.REQ), ctx.socket(zmq.REP)
    client.connect(bind(frontend, unique_endpoint("inproc")))
    worker.connect(bind(backend, unique_endpoint("inproc")))
    control, steer = ctx.socket(zmq.REP), ctx.socket(zmq.REQ)
    steer.connect(bind(control, unique_endpoint("inproc")))
    with anyio.fail_after(5):
        async with running(trio_zmq.Proxy(frontend, backend, control=control)):
            for request, reply in zip(requests, replies, strict=True):
                await client.send_multipart(request)
                await worker.recv_multipart()
                await worker.send(reply)
                await client.recv()
            ours = await command(steer, b"STATISTICS")
    assert trio_zmq.ProxyStatistics.from_frames(ours) == trio_zmq.ProxyStatistics.from_frames(
        reference
    )
    # And by hand: a request is [identity (5 bytes), b"", *frames].
    stats = trio_zmq.ProxyStatistics.from_frames(ours)
    assert stats.frontend_frames_in == stats.backend_frames_out == 4 * 6
    assert stats.frontend_bytes_in == sum(5 + size(r) for r in requests)
    assert stats.backend_frames_in == stats.frontend_frames_out == 3 * 6
    assert stats.backend_bytes_in == sum(5 + len(r) for r in replies)


def test_statistics_frames_round_trip() -> None:
    stats = trio_zmq.ProxyStatistics(*range(1, 9))
    assert trio_zmq.ProxyStatistics.from_frames(stats.as_frames()) == stats
    with pytest.raises(ValueError, match="8 frames of 8 bytes"):
        trio_zmq.ProxyStatistics.from_frames([b"\0" * 8] * 7)
    with pytest.raises(ValueError, match="8 frames of 8 bytes"):
        trio_zmq.ProxyStatistics.from_frames([b"\0" * 4] * 8)


# ----------------------------------------------------------------------
# Lifetime, errors, bad input
# ----------------------------------------------------------------------


@ON_EVERY_LOOP
async def test_proxy_runs_until_cancelled(ctx: trio_zmq.Context) -> None:
    s = streamer(ctx)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(trio_zmq.proxy, s.frontend, s.backend)
            await s.producer.send(b"through")
            assert await s.consumer.recv() == b"through"
            group.cancel_scope.cancel()
    assert_idle(s.frontend, s.backend)


@ON_EVERY_LOOP
async def test_run_twice_at_once_is_refused(ctx: trio_zmq.Context) -> None:
    s = streamer(ctx)
    proxy = trio_zmq.Proxy(s.frontend, s.backend)
    async with running(proxy):
        with pytest.raises(RuntimeError, match="already running"):
            await proxy.run()
    assert "not running" in repr(proxy)


@ON_EVERY_LOOP
@pytest.mark.parametrize("victim", ["frontend", "backend"])
async def test_a_socket_closed_while_running_ends_it(ctx: trio_zmq.Context, victim: str) -> None:
    """Closing the frontend wakes the direction waiting on it; a closed
    backend is met by the next step, before it takes anything."""
    s = streamer(ctx)
    proxy = trio_zmq.Proxy(s.frontend, s.backend)
    caught: list[Exception] = []
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            await group.start(run_expecting, proxy, trio_zmq.ClosedResourceError, caught)
            getattr(s, victim).close()
            if victim == "backend":
                await s.producer.send(b"stays")
    assert not proxy.running
    if victim == "backend":
        assert await s.frontend.recv() == b"stays"


def bad_proxies(
    ctx: trio_zmq.Context,
) -> Iterator[tuple[str, Any, type[Exception], str]]:
    """(what, a call that makes a proxy, the exception, a match for it)."""
    s = streamer(ctx)
    f, b = s.frontend, s.backend
    sub, pub = ctx.socket(zmq.SUB), ctx.socket(zmq.PUB)
    yield "same socket", lambda: trio_zmq.Proxy(f, f), ValueError, "as frontend and as backend"
    yield (
        "same libzmq socket, two wrappers",
        lambda: trio_zmq.Proxy(f, trio_zmq.Socket.from_socket(f.zmq_socket)),
        ValueError,
        "same socket",
    )
    yield "capture is the backend", lambda: trio_zmq.Proxy(f, b, b), ValueError, "same socket"
    yield "control is the frontend", lambda: trio_zmq.Proxy(f, b, None, f), ValueError, "same"
    yield (
        "a pyzmq socket",
        lambda: trio_zmq.Proxy(f.zmq_socket, b),  # type: ignore[arg-type]
        TypeError,
        "Socket.from_socket",
    )
    yield "not a socket", lambda: trio_zmq.Proxy("tcp://", b), TypeError, "str"  # type: ignore[arg-type]
    yield "capture SUB", lambda: trio_zmq.Proxy(f, b, sub), ValueError, "PUB, PUSH, PAIR or"
    yield "control PUB", lambda: trio_zmq.Proxy(f, b, None, pub), ValueError, "REP or PAIR"
    push = ctx.socket(zmq.PUSH)
    yield "no direction", lambda: trio_zmq.Proxy(b, push), ValueError, "nothing to forward"
    for timeout in (-1, float("nan"), float("inf"), "1", True):
        yield (
            f"flush_timeout={timeout!r}",
            lambda t=timeout: trio_zmq.Proxy(f, b, flush_timeout=t),
            ValueError,
            "flush_timeout",
        )


@ON_EVERY_LOOP
async def test_bad_input_is_refused_before_forwarding(ctx: trio_zmq.Context) -> None:
    for what, make, error, match in bad_proxies(ctx):
        with pytest.raises(error, match=match):
            make()
        print("refused:", what)
    s = streamer(ctx)
    await s.producer.send(b"untouched")
    await until_readable(s.frontend)
    with pytest.raises(ValueError, match="same socket"):
        await trio_zmq.proxy(s.frontend, s.frontend)
    with pytest.raises(ValueError, match="REP or PAIR"):
        await trio_zmq.proxy_steerable(s.frontend, s.backend, None, s.producer)
    assert await s.frontend.recv() == b"untouched"


@ON_EVERY_LOOP
async def test_closed_sockets_are_refused_before_forwarding(ctx: trio_zmq.Context) -> None:
    s = streamer(ctx)
    s.backend.close()
    with pytest.raises(trio_zmq.ClosedResourceError, match="backend"):
        trio_zmq.Proxy(s.frontend, s.backend)
    # Closed between construction and run(): refused by run().
    s = streamer(ctx)
    proxy = trio_zmq.Proxy(s.frontend, s.backend)
    await s.producer.send(b"untouched")
    await until_readable(s.frontend)
    s.backend.close()
    with pytest.raises(trio_zmq.ClosedResourceError, match="backend"):
        await proxy.run()
    assert await s.frontend.recv() == b"untouched"


def test_a_zmq_asyncio_socket_is_refused() -> None:
    actx = zmq.asyncio.Context()
    try:
        asock = actx.socket(zmq.PULL)
        with pytest.raises(TypeError, match="from_socket"):
            trio_zmq.Proxy(asock, asock)  # type: ignore[arg-type]
    finally:
        actx.destroy(linger=0)


def test_the_example_runs() -> None:
    """docs/proxy.md's example, as a user runs it."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=True
    )
    lines = done.stdout.splitlines()
    assert lines[0] == "20 replies, each to the client that asked"
    assert lines[1] == "frontend: 60 frames in, 60 out; backend: 60 in, 60 out"


# ----------------------------------------------------------------------
# The property: random traffic both ways, random steering, chaos
# ----------------------------------------------------------------------

#: Each example must end within this many seconds (a hang fails it).
LIVENESS = 4.0
STEERING = ("pause", "resume", "cancel", "terminate")


@dataclasses.dataclass(frozen=True)
class Traffic:
    """Senders on each side of a DEALER | proxy | DEALER pair, what they
    send, and what happens to the proxy meanwhile."""

    #: DEALERs on the frontend's side and on the backend's.
    sockets: tuple[int, int]
    #: (side, socket index, payload frames), in sending order.
    messages: tuple[tuple[int, int, tuple[bytes, ...]], ...]
    #: (scheduler ticks to wait, what to do to the proxy).
    steering: tuple[tuple[int, str], ...]
    #: Scheduler ticks before the receivers start (the proxy meets full
    #: destinations meanwhile).
    receive_after: int
    hwm: int
    burst: int


@st.composite
def traffics(draw: st.DrawFn) -> Traffic:
    sockets = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    count = draw(st.integers(0, 32))
    raw = draw(
        st.lists(
            st.tuples(st.integers(0, 1), st.integers(0, 1), multipart_messages(max_frames=3)),
            min_size=count,
            max_size=count,
        )
    )
    messages = tuple((side, index % sockets[side], tuple(frames)) for side, index, frames in raw)
    steering = draw(st.lists(st.tuples(st.integers(0, 30), st.sampled_from(STEERING)), max_size=8))
    return Traffic(
        sockets=sockets,
        messages=messages,
        steering=tuple(steering),
        receive_after=draw(st.integers(0, 60)),
        hwm=draw(st.sampled_from([1, 2, 4, 1000])),
        burst=draw(st.integers(1, 4)),
    )


def wire(side: int, sender: int, number: int, payload: tuple[bytes, ...]) -> list[bytes]:
    return [bytes([side, sender]), seq(number), *payload]


async def exercise(traffic: Traffic) -> None:
    """Run ``traffic`` and check the promise; raise AssertionError if broken."""
    async with trio_zmq.Context(linger=0) as ctx:
        frontend, backend = ctx.socket(zmq.DEALER), ctx.socket(zmq.DEALER)
        sides: list[list[trio_zmq.Socket]] = [[], []]
        for side, proxy_socket in enumerate((frontend, backend)):
            proxy_socket.sndhwm = proxy_socket.rcvhwm = traffic.hwm
            address = bind(proxy_socket, unique_endpoint("inproc"))
            for _ in range(traffic.sockets[side]):
                sock = ctx.socket(zmq.DEALER)
                sock.sndhwm = sock.rcvhwm = traffic.hwm
                sock.connect(address)
                sides[side].append(sock)
        outgoing: dict[tuple[int, int], list[list[bytes]]] = {}
        for side, index, payload in traffic.messages:
            queue = outgoing.setdefault((side, index), [])
            queue.append(wire(side, index, len(queue), payload))
        # (receiving side, socket index, frames), in arrival order.
        arrived: list[tuple[int, int, list[bytes]]] = []
        sending = [len(outgoing)]
        proxy = trio_zmq.Proxy(frontend, backend)

        async def send(sock: trio_zmq.Socket, messages: list[list[bytes]]) -> None:
            for frames in messages:
                await sock.send_multipart(frames)
            sending[0] -= 1

        async def receive(side: int, index: int) -> None:
            sock = sides[side][index]
            await ticks(traffic.receive_after)
            while True:
                arrived.append((side, index, await sock.recv_multipart()))

        def in_transit() -> bool:
            """Is any message sent and not arrived yet (as far as we see)?"""
            return bool(
                sending[0]
                or not proxy.running
                or any(direction.held for direction in proxy._directions)
                or any(
                    trio_zmq.probe(sock, zmq.POLLIN)
                    for sock in (frontend, backend, *sides[0], *sides[1])
                )
            )

        async with anyio.create_task_group() as group:
            for side, socks in enumerate(sides):
                for index in range(len(socks)):
                    group.start_soon(receive, side, index)
            for (side, index), messages in outgoing.items():
                group.start_soon(send, sides[side][index], messages)
            current = await group.start(proxy_life, proxy)
            for wait, action in traffic.steering:
                await ticks(wait)
                if action == "pause":
                    proxy.pause()
                elif action == "resume":
                    proxy.resume()
                else:
                    if action == "cancel":
                        current.cancel()
                    else:
                        proxy.terminate()
                    await until_stopped(proxy)  # it may be flushing a held message
                    current = await group.start(proxy_life, proxy)
            proxy.resume()
            # Until everything arrived, or nothing is left anywhere to arrive
            # (twice in a row, a few ticks apart): a lost message fails at
            # once, with its name, instead of at the liveness bound.
            quiet = 0
            while len(arrived) < len(traffic.messages) and quiet < 2:
                await ticks(5)
                quiet = 0 if in_transit() else quiet + 1
            proxy.terminate()
            await until_stopped(proxy)
            await ticks(10)  # a duplicate would arrive now
            group.cancel_scope.cancel()
        for socks in sides:
            nothing_left(*socks)
            assert_idle(*socks)
        assert_idle(frontend, backend)
        check(outgoing, arrived, proxy.statistics())


def check(
    outgoing: dict[tuple[int, int], list[list[bytes]]],
    arrived: list[tuple[int, int, list[bytes]]],
    stats: trio_zmq.ProxyStatistics,
) -> None:
    """Every message once, whole, on the other side, in order per sender
    (as each receiving socket sees it)."""
    seen: set[tuple[int, int, int]] = set()
    last: dict[tuple[int, int, int, int], int] = {}
    for receiver_side, receiver, frames in arrived:
        side, sender = frames[0]
        number = unseq(frames[1])
        key = (side, sender, number)
        assert key not in seen, f"duplicated: {key}"
        seen.add(key)
        assert receiver_side == 1 - side, f"{key} came back to its own side"
        assert frames == outgoing[(side, sender)][number], f"torn or altered: {key}"
        order = (side, sender, receiver_side, receiver)
        assert number > last.get(order, -1), f"reordered: {key} after {last[order]}"
        last[order] = number
    missing = {
        (side, sender, number)
        for (side, sender), messages in outgoing.items()
        for number in range(len(messages))
    } - seen
    assert not missing, f"lost: {sorted(missing)}"
    for side, prefix in ((0, "frontend"), (1, "backend")):
        count = sum(len(m) for (s, _), ms in outgoing.items() if s == side for m in ms)
        assert getattr(stats, f"{prefix}_frames_in") == count
    assert stats.frontend_frames_in == stats.backend_frames_out
    assert stats.backend_frames_in == stats.frontend_frames_out


def run_example(flavour: str, traffic: Traffic, chaos: ChaosSchedule) -> None:
    """One example on the event loop (and engine path) ``flavour`` names."""

    async def main() -> None:
        with anyio.fail_after(LIVENESS):
            await exercise(traffic)

    force = _backend.force_anyio() if flavour == "trio-anyio-engine" else None
    loop = "asyncio" if flavour == "asyncio" else "trio"
    with force or contextlib.nullcontext(), chaos_mode(chaos), small_bursts(traffic.burst):
        anyio.run(main, backend=loop)


#: Hypothesis's phases minus "explain" (slow, and the failure says what broke).
PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]
HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]


@pytest.mark.parametrize("flavour", FLAVOURS)
@settings(suppress_health_check=HEALTH, phases=PHASES)
@given(traffic=traffics(), chaos=chaos_schedules(max_decisions=16))
def test_property_every_message_once_whole_in_order(
    flavour: str, traffic: Traffic, chaos: ChaosSchedule
) -> None:
    run_example(flavour, traffic, chaos)


@contextlib.contextmanager
def dropping_held_messages_when_cancelled() -> Iterator[None]:
    """A broken proxy: cancelled while it holds a message, it drops it
    (what a proxy built on recv_batch + send_batch would do)."""

    async def deliver_held(self: _proxy._Direction, flush_timeout: float) -> None:
        try:
            await self._send_held()
        except anyio.get_cancelled_exc_class():
            self.held.clear()
            raise

    with mock.patch.object(_proxy._Direction, "_deliver_held", deliver_held):
        yield


def test_the_property_catches_a_proxy_that_drops_held_messages() -> None:
    """The property has teeth: against the broken proxy it finds a lost
    message (generating only, as in tests/property/test_property_power.py)."""

    @settings(
        max_examples=300,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=HEALTH,
    )
    @given(traffic=traffics(), chaos=chaos_schedules(max_decisions=16))
    def broken(traffic: Traffic, chaos: ChaosSchedule) -> None:
        run_example("trio", traffic, chaos)

    with dropping_held_messages_when_cancelled():
        assert_hypothesis_catches(broken, AssertionError, match="lost")


def test_the_benchmark_runs(tmp_path: Path) -> None:
    """``python -m benchmarks proxy`` with a tiny load: every row, both tables."""
    if not (EXAMPLE.parents[1] / "benchmarks" / "proxy.py").exists():
        pytest.skip("the benchmarks are in the source checkout only")
    done = subprocess.run(
        [
            sys.executable,
            *("-m", "benchmarks", "proxy", "--json", str(tmp_path / "proxy.json")),
            *("--rounds", "1", "--messages", "2000", "--transports", "inproc"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=EXAMPLE.parents[1],
    )
    for row in ("trio_zmq (trio)", "trio_zmq (asyncio)", "zmq.asyncio loop", "zmq.proxy (thread)"):
        assert f"\n  {row} " in done.stdout
    assert "\n  trio_zmq step, checked (ZMQ_EVENTS per message) " in done.stdout
