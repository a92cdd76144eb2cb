"""examples/mongrel2: the handler against a real Mongrel2, with real HTTP clients.

Each test starts ``mongrel2`` (Debian's mongrel2-core) in its own
temporary directory through the example's runner, on free ports, runs the
handler in the test's trio run and talks HTTP/1.1 to Mongrel2 over TCP.
Every wait has a bound; Mongrel2 is stopped on the way out.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import zmq

import trio_zmq
from examples.mongrel2.client import HttpConnection, wait_until_served
from examples.mongrel2.handler import Journal, serve
from examples.mongrel2.protocol import Request, encode_request, parse_netstring
from examples.mongrel2.server import (
    STARTUP_TIMEOUT,
    Mongrel2Config,
    Mongrel2Error,
    running_mongrel2,
)

from tests.helpers import ROOT
from tests.peers import require_program

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

WORKERS = 4
#: A bound for any one exchange that should take milliseconds.
BOUND = 10
INSTALL = "apt-get install -y mongrel2-core"


def require_mongrel2() -> None:
    require_program("mongrel2", INSTALL)
    require_program("m2sh", INSTALL)


@asynccontextmanager
async def mongrel2_and_handler(directory: Path) -> AsyncIterator[tuple[Mongrel2Config, Journal]]:
    """A real Mongrel2 and the handler with ``WORKERS`` workers, serving."""
    require_mongrel2()
    journal = Journal()
    async with (
        running_mongrel2(directory) as config,
        trio_zmq.Context(linger=0) as ctx,
        trio.open_nursery() as nursery,
    ):
        await nursery.start(
            lambda task_status: serve(
                ctx,
                config.send_spec,
                config.recv_spec,
                workers=WORKERS,
                journal=journal,
                task_status=task_status,
            )
        )
        with trio.fail_after(STARTUP_TIMEOUT):
            await wait_until_served(config.http_port)
        yield config, journal
        nursery.cancel_scope.cancel()
    assert journal.counts["bad message"] == 0


def hello_conn(body: bytes, uri: str, method: str = "GET") -> str:
    """The connection id in a ``/hello`` or ``/slow`` reply, after checking it
    names ``method uri``."""
    match = re.fullmatch(rb"hello conn (\d+): (\S+) (\S+)", body)
    assert match is not None, body
    assert match[2].decode() == method, (body, method)
    assert match[3].decode() == uri, (body, uri)
    return match[1].decode()


async def connection_id(connection: HttpConnection) -> bytes:
    """The Mongrel2 connection id of ``connection``, from a ``/hello``."""
    response = await connection.request("GET", "/hello")
    assert response.status == 200
    return hello_conn(response.body, "/hello").encode()


async def test_keep_alive_clients_get_their_own_replies(tmp_path: Path) -> None:
    """Eight clients at once, each with one keep-alive connection and six
    rounds on it (GET /slow with 0-60 ms of work, so the handler holds
    several requests at a time, then POST /echo): every response is the one
    to its own request, and one connection keeps one Mongrel2 id."""
    clients, rounds = 8, 6
    conn_ids: dict[int, set[str]] = {}

    async def client(config: Mongrel2Config, number: int) -> None:
        async with await HttpConnection.open("127.0.0.1", config.http_port) as connection:
            for round_ in range(rounds):
                uri = f"/slow?ms={(number * 37 + round_ * 11) % 60}&client={number}&round={round_}"
                response = await connection.request("GET", uri)
                assert response.status == 200
                conn_ids.setdefault(number, set()).add(hello_conn(response.body, uri))
                body = b"client %d round %d \x00\xff\r\n%s" % (number, round_, b"x" * number * 100)
                echo = await connection.request("POST", "/echo", body)
                assert (echo.status, echo.body) == (200, body)

    async with mongrel2_and_handler(tmp_path) as (config, journal):
        with trio.fail_after(BOUND):
            async with trio.open_nursery() as nursery:
                for number in range(clients):
                    nursery.start_soon(client, config, number)
        requests = [
            event
            for event in journal.recent
            if event.kind == "request" and event.detail.startswith(("GET /slow", "POST /echo"))
        ]
    assert all(len(ids) == 1 for ids in conn_ids.values()), conn_ids
    assert len({ids.pop() for ids in conn_ids.values()}) == clients
    assert len(requests) == clients * rounds * 2


async def test_slow_requests_are_worked_on_at_once(tmp_path: Path) -> None:
    """WORKERS requests that each take a second are answered in about one
    second, not WORKERS seconds: the worker tasks work concurrently."""
    delay_ms = 1000
    elapsed: list[float] = []

    async def slow(config: Mongrel2Config, number: int) -> None:
        async with await HttpConnection.open("127.0.0.1", config.http_port) as connection:
            uri = f"/slow?ms={delay_ms}&client={number}"
            start = trio.current_time()
            response = await connection.request("GET", uri)
            elapsed.append(trio.current_time() - start)
            hello_conn(response.body, uri)

    async with mongrel2_and_handler(tmp_path) as (config, _):
        with trio.fail_after(BOUND):
            async with trio.open_nursery() as nursery:
                for number in range(WORKERS):
                    nursery.start_soon(slow, config, number)
    assert len(elapsed) == WORKERS
    # One after another would take WORKERS (4) seconds; generous for a busy machine.
    assert max(elapsed) < 0.6 * WORKERS * delay_ms / 1000, elapsed


async def test_clients_that_hang_up_early(tmp_path: Path) -> None:
    """Clients send /slow?ms=60000 and hang up at once.  The handler gets
    Mongrel2's disconnect notice for each of their connection ids and
    cancels their work; afterwards every worker is free: WORKERS one-second
    requests finish in about a second, and keep-alive clients are served."""
    hang_ups = WORKERS - 1  # one worker stays free to read the notices

    async with mongrel2_and_handler(tmp_path) as (config, journal):
        gone = []
        with trio.fail_after(BOUND):
            for number in range(hang_ups):
                async with await HttpConnection.open("127.0.0.1", config.http_port) as connection:
                    gone.append(await connection_id(connection))
                    await connection.send_request("GET", f"/slow?ms=60000&client={number}")
                    await journal.wait_for("request", gone[-1], "GET /slow")  # a worker has it
                    await connection.aclose()
            for conn_id in gone:
                await journal.wait_for("disconnect", conn_id)
                await journal.wait_for("cancelled", conn_id)

        start = trio.current_time()
        with trio.fail_after(BOUND):
            async with trio.open_nursery() as nursery:
                for number in range(WORKERS):
                    nursery.start_soon(_get_slow, config, number)
        # Were the hung-up requests still sleeping, the one free worker
        # would take WORKERS (4) seconds.
        assert trio.current_time() - start < 0.6 * WORKERS

        with trio.fail_after(BOUND):
            async with await HttpConnection.open("127.0.0.1", config.http_port) as connection:
                for _ in range(3):
                    assert await connection_id(connection) not in gone
    assert journal.counts["cancelled"] == hang_ups


async def _get_slow(config: Mongrel2Config, number: int) -> None:
    async with await HttpConnection.open("127.0.0.1", config.http_port) as connection:
        uri = f"/slow?ms=1000&client={number}"
        hello_conn((await connection.request("GET", uri)).body, uri)


async def test_a_stream_stops_when_its_client_hangs_up(tmp_path: Path) -> None:
    """/stream sends a chunk every 20 ms without end; the client reads a few
    and hangs up; the disconnect notice stops the stream (its worker is
    free again).  A stream with ``n`` ends by itself, keeping the connection."""
    async with mongrel2_and_handler(tmp_path) as (config, journal):
        with trio.fail_after(BOUND):
            async with await HttpConnection.open("127.0.0.1", config.http_port) as connection:
                conn_id = await connection_id(connection)
                await connection.send_request("GET", "/stream?ms=20")
                status, headers = await connection.read_head()
                assert (status, headers["transfer-encoding"]) == (200, "chunked")
                for number in range(5):
                    assert await connection.read_chunk() == b"tick %d\n" % number
                await connection.aclose()
            await journal.wait_for("disconnect", conn_id)
            await journal.wait_for("cancelled", conn_id)

            async with await HttpConnection.open("127.0.0.1", config.http_port) as connection:
                response = await connection.request("GET", "/stream?ms=1&n=3")
                assert response.body == b"tick 0\ntick 1\ntick 2\n"
                assert await connection_id(connection) != conn_id


@asynccontextmanager
async def fake_mongrel2() -> AsyncIterator[tuple[trio_zmq.Socket, trio_zmq.Socket, Journal]]:
    """Our own PUSH and SUB sockets in Mongrel2's place, the handler connected
    to them: for what the real Mongrel2 cannot be made to send."""
    journal = Journal()
    async with trio_zmq.Context(linger=0) as ctx, trio.open_nursery() as nursery:
        with ctx.socket(zmq.PUSH) as push, ctx.socket(zmq.SUB) as sub:
            push.bind("tcp://127.0.0.1:*")
            sub.bind("tcp://127.0.0.1:*")
            sub.subscribe(b"")
            await nursery.start(
                lambda task_status: serve(
                    ctx,
                    push.last_endpoint.decode(),
                    sub.last_endpoint.decode(),
                    journal=journal,
                    task_status=task_status,
                )
            )
            yield push, sub, journal
            nursery.cancel_scope.cancel()


def fake_request(conn_id: bytes, uri: str, method: str = "GET", body: bytes = b"") -> bytes:
    path = uri.partition("?")[0]
    headers = {"METHOD": method, "URI": uri, "QUERY": uri.partition("?")[2]}
    return encode_request(Request(b"m2", conn_id, path, headers, body))


async def test_bad_requests_get_clear_answers(tmp_path: Path) -> None:
    """A bad number is a 400 saying which, an unknown path a 404; the
    handler and the keep-alive connection go on."""
    async with mongrel2_and_handler(tmp_path) as (config, _):
        with trio.fail_after(BOUND):
            async with await HttpConnection.open("127.0.0.1", config.http_port) as connection:
                bad = await connection.request("GET", "/slow?ms=-5")
                assert (bad.status, bad.body) == (400, b"ms='-5' is not a number >= 0\n")
                bad = await connection.request("GET", "/stream?n=many")
                assert (bad.status, bad.body) == (400, b"n='many' is not a number >= 0\n")
                missing = await connection.request("GET", "/nowhere")
                assert missing.status == 404
                await connection_id(connection)


async def test_handler_survives_malformed_messages() -> None:
    """Garbage, then a request: the garbage is recorded as bad, the request
    is answered."""
    async with fake_mongrel2() as (push, sub, journal):
        with trio.fail_after(BOUND):
            for garbage in (b"", b"m2 5 /x 9:{},", b"m2 5 /x 2:{},0:,tail"):
                await push.send(garbage)
            while True:  # the PUB may drop replies until it has connected
                await push.send(fake_request(b"5", "/hello"))
                with trio.move_on_after(0.2):
                    reply = await sub.recv()
                    break
        sender, rest = reply.split(b" ", 1)
        conn_ids, body = parse_netstring(rest)
        assert (sender, conn_ids) == (b"m2", b"5")
        assert body.endswith(b"\r\n\r\nhello conn 5: GET /hello")
        assert journal.counts["bad message"] == 3


async def test_a_request_overtaken_by_its_disconnect_is_skipped() -> None:
    """The notice for connection 9 is handled before its request (two
    workers take the two in turn, the second runs first; or every worker was
    busy): the request is skipped, not worked on for a client that is gone."""
    async with fake_mongrel2() as (push, _, journal):
        with trio.fail_after(BOUND):
            await push.send(b'm2 9 @* 17:{"METHOD":"JSON"},21:{"type":"disconnect"},')
            await journal.wait_for("disconnect", b"9")
            await push.send(fake_request(b"9", "/slow?ms=60000"))
            await journal.wait_for("cancelled", b"9", "/slow")


async def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    """Mongrel2 cannot bind its HTTP port, which something else listens on:
    the runner says so, with Mongrel2's log, instead of taking the other
    listener for Mongrel2."""
    require_mongrel2()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ExceptionGroup) as info, trio.fail_after(STARTUP_TIMEOUT):
            async with running_mongrel2(tmp_path, http_port=taken.getsockname()[1]):
                pass
    assert info.group_contains(Mongrel2Error, match=r"(?s)exited with status 1.*Address already")


def test_script_runs_and_stops_on_ctrl_c() -> None:
    """``python -m examples.mongrel2`` starts Mongrel2 and the handler, says
    where it serves, serves, and stops on Ctrl-C (status 130, no traceback),
    taking Mongrel2 with it."""
    require_mongrel2()
    process = subprocess.Popen(
        [sys.executable, "-m", "examples.mongrel2", "--port", "0", "--workers", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        # Bounded by the script's own startup timeouts: it says "ready" or exits.
        lines = []
        while not (line := process.stdout.readline()).startswith("ready") and line:
            lines.append(line)
        match = re.match(r"ready: http://127\.0\.0\.1:(\d+)/hello \(Mongrel2 in (\S+)\)", line)
        assert match is not None, lines

        async def get() -> bytes:
            with trio.fail_after(BOUND):
                async with await HttpConnection.open("127.0.0.1", int(match[1])) as connection:
                    return (await connection.request("GET", "/hello?by=script")).body

        hello_conn(trio.run(get), "/hello?by=script")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 130, stderr
        assert "Traceback" not in stderr
        assert not Path(match[2]).exists()  # the temporary directory is gone
    finally:
        process.kill()
        process.communicate(timeout=30)
