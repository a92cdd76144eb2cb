"""A Mongrel2 handler: worker tasks in one nursery, sharing two sockets.

Mongrel2 PUSHes requests to a PULL socket that the handler connects to its
``send_spec``, and SUBscribes to replies that the handler PUBlishes to its
``recv_spec``.  Here ``workers`` tasks share that one PULL and that one PUB
socket: each takes the next message (trio_zmq serves the waiting tasks
first-in-first-out), handles it, and PUBlishes the reply, so up to
``workers`` requests are worked on at once and a slow one holds up only its
own task.  Nothing runs in the background: the worker tasks are in the
nursery :func:`serve` opens, and cancelling it stops them and closes the
sockets.

Routes (any method; Mongrel2 routes every path here):

* ``/hello``: ``hello conn ID: METHOD URI``, naming the request it answers;
* ``/echo``: the request body, as it came;
* ``/slow?ms=N``: the same as ``/hello`` after ``N`` ms, so concurrency shows;
* ``/stream?ms=N[&n=K]``: a chunked response, a chunk every ``N`` ms, until
  ``K`` chunks have gone (forever without ``n``) or the client hangs up.

Disconnects.  When a client hangs up, Mongrel2 sends a disconnect notice
for its connection id, and the worker that takes it cancels the work in
progress for that connection (a ``/slow`` sleep, a ``/stream``), so that
worker is free again at once instead of writing to nobody.  Every task that
works on a request registers its cancel scope under the connection id for
that.  A notice is read by the next free worker like any request: with all
``workers`` busy it waits its turn.  It can overtake its own request (two
workers take the two messages in turn, and the second runs first): the
handler remembers the connections that are gone and skips their requests.

What happens is recorded in a :class:`Journal` (printed too, if asked), which
is how the program's user, and its tests, see the disconnects.

Run it against your own Mongrel2: ``python -m examples.mongrel2.handler
--send-spec tcp://127.0.0.1:9997 --recv-spec tcp://127.0.0.1:9996``;
``python -m examples.mongrel2`` starts a Mongrel2 too.  Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import trio
import zmq

import trio_zmq
from examples._script import run_script

from .protocol import (
    ProtocolError,
    Request,
    http_chunk,
    http_response,
    http_stream_head,
    parse_request,
    reply_message,
)

#: Worker tasks by default: how many requests are worked on at once.
WORKERS = 4
#: How many gone connections the handler remembers (each new connection gets a new id).
GONE_REMEMBERED = 10_000


@dataclass(frozen=True)
class Event:
    """Something the handler did: ``kind`` is ``request``, ``disconnect``,
    ``cancelled`` (work stopped by a disconnect) or ``bad message``."""

    kind: str
    conn_id: bytes
    detail: str


@dataclass
class Journal:
    """What the handler has seen: counts, the latest events, a way to wait."""

    verbose: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    recent: deque[Event] = field(default_factory=lambda: deque(maxlen=1000))
    _changed: trio.Event = field(default_factory=trio.Event)

    def record(self, kind: str, conn_id: bytes, detail: str = "") -> None:
        event = Event(kind, conn_id, detail)
        self.counts[kind] += 1
        self.recent.append(event)
        if self.verbose:
            where = f" conn {conn_id.decode()}" if conn_id else ""
            print(f"{kind}{where} {detail}".rstrip(), flush=True)
        self._changed.set()
        self._changed = trio.Event()

    def seen(self, kind: str, conn_id: bytes, detail_prefix: str = "") -> bool:
        """Whether a recent event is of ``kind``, for ``conn_id``, its detail
        starting with ``detail_prefix``."""
        return any(
            e.kind == kind and e.conn_id == conn_id and e.detail.startswith(detail_prefix)
            for e in self.recent
        )

    async def wait_for(self, kind: str, conn_id: bytes, detail_prefix: str = "") -> None:
        """Return once :meth:`seen` says so."""
        while not self.seen(kind, conn_id, detail_prefix):
            await self._changed.wait()


class Handler:
    """The routes, and the work in progress per connection, shared by the workers."""

    def __init__(self, pub: trio_zmq.Socket, journal: Journal) -> None:
        self._pub = pub
        self.journal = journal
        #: Cancel scopes of the work in progress, by connection id.
        self._work: dict[bytes, set[trio.CancelScope]] = {}
        #: Connections Mongrel2 has said are gone, oldest first (an ordered set).
        self._gone: dict[bytes, None] = {}

    async def handle(self, message: bytes) -> None:
        """Handle one message from Mongrel2: a request or a disconnect notice."""
        try:
            request = parse_request(message)
            disconnect = request.is_disconnect
        except ProtocolError as error:
            self.journal.record("bad message", b"", str(error))
            return
        if disconnect:
            self.journal.record("disconnect", request.conn_id)
            self._gone[request.conn_id] = None
            while len(self._gone) > GONE_REMEMBERED:
                del self._gone[next(iter(self._gone))]
            for scope in self._work.pop(request.conn_id, set()):
                scope.cancel()
            return
        uri = str(request.headers.get("URI", request.path))
        self.journal.record("request", request.conn_id, f"{request.headers.get('METHOD')} {uri}")
        if request.conn_id in self._gone:
            # The notice overtook its request: another worker took it first,
            # or every worker was busy until both were queued.
            self.journal.record("cancelled", request.conn_id, uri)
            return
        with trio.CancelScope() as scope:
            self._work.setdefault(request.conn_id, set()).add(scope)
            try:
                await self._route(request, uri)
            finally:
                self._forget(request.conn_id, scope)
        if scope.cancelled_caught:
            self.journal.record("cancelled", request.conn_id, uri)

    def _forget(self, conn_id: bytes, scope: trio.CancelScope) -> None:
        scopes = self._work.get(conn_id, set())
        scopes.discard(scope)
        if not scopes:
            self._work.pop(conn_id, None)

    async def _reply(self, request: Request, body: bytes) -> None:
        await self._pub.send(reply_message(request.sender, [request.conn_id], body))

    async def _route(self, request: Request, uri: str) -> None:
        query = parse_qs(str(request.headers.get("QUERY", "")))
        try:
            ms = _count(query, "ms") or 0
            chunks = _count(query, "n")
        except ValueError as error:
            body = f"{error}\n".encode()
            await self._reply(request, http_response(body, status=400, reason="Bad Request"))
            return
        hello = f"hello conn {request.conn_id.decode()}: {request.headers.get('METHOD')} {uri}"
        if request.path == "/hello":
            await self._reply(request, http_response(hello.encode()))
        elif request.path == "/echo":
            await self._reply(request, http_response(request.body))
        elif request.path == "/slow":
            await trio.sleep(ms / 1000)
            await self._reply(request, http_response(hello.encode()))
        elif request.path == "/stream":
            await self._stream(request, ms / 1000, chunks)
        else:
            await self._reply(request, http_response(b"no such page\n", status=404, reason="Nope"))

    async def _stream(self, request: Request, interval: float, chunks: int | None) -> None:
        await self._reply(request, http_stream_head())
        number = 0
        while chunks is None or number < chunks:
            await self._reply(request, http_chunk(b"tick %d\n" % number))
            number += 1
            await trio.sleep(interval)
        await self._reply(request, http_chunk(b""))


def _count(query: dict[str, list[str]], name: str) -> int | None:
    """The query parameter ``name`` as a number >= 0, or ``None`` if absent."""
    if name not in query:
        return None
    text = query[name][0]
    if not text.isdigit():
        raise ValueError(f"{name}={text!r} is not a number >= 0")
    return int(text)


async def _worker(pull: trio_zmq.Socket, handler: Handler) -> None:
    while True:
        await handler.handle(await pull.recv())


async def serve(
    ctx: trio_zmq.Context,
    send_spec: str,
    recv_spec: str,
    *,
    workers: int = WORKERS,
    sender_id: bytes | None = None,
    journal: Journal | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve Mongrel2's requests from ``send_spec``, reply to ``recv_spec``, until cancelled.

    ``sender_id`` is the identity of the reply socket, unique per handler
    process as Mongrel2's docs ask (a random UUID by default).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    with ctx.socket(zmq.PULL) as pull, ctx.socket(zmq.PUB) as pub:
        pull.linger = pub.linger = 0
        pub.identity = sender_id or str(uuid.uuid4()).encode()
        pull.connect(send_spec)
        pub.connect(recv_spec)
        handler = Handler(pub, journal or Journal())
        async with trio.open_nursery() as nursery:
            for _ in range(workers):
                nursery.start_soon(_worker, pull, handler)
            task_status.started()


async def main(args: argparse.Namespace) -> None:
    """Serve until Ctrl-C, printing what happens."""
    async with trio_zmq.Context(linger=0) as ctx:
        print(f"handler: {args.workers} workers on {args.send_spec} / {args.recv_spec}")
        await serve(
            ctx, args.send_spec, args.recv_spec, workers=args.workers, journal=Journal(verbose=True)
        )


def add_worker_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", type=int, default=WORKERS, help="worker tasks (default %(default)s)"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of ``python -m examples.mongrel2.handler``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--send-spec", required=True, help="Mongrel2's send_spec (we PULL)")
    parser.add_argument("--recv-spec", required=True, help="Mongrel2's recv_spec (we PUB)")
    add_worker_argument(parser)
    return parser.parse_args(argv)


if __name__ == "__main__":
    run_script(main, parse_args())
