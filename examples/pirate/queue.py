"""The Paranoid Pirate queue: a load-balancing broker that checks its workers.

Clients (REQ, the Lazy Pirate) connect to the frontend ROUTER, workers
(DEALER, the Paranoid Pirate worker) to the backend ROUTER.  A worker says
``READY`` when it connects and is then *idle*; the queue hands each request
to the idle worker that has waited longest and takes the worker's reply back
to the client, which makes the worker idle again, as does a ``HEARTBEAT``
(a worker heartbeats only while idle).  Every worker gets a ``HEARTBEAT``
each ``heartbeat_interval``; a worker from which nothing (reply, ``READY``
or ``HEARTBEAT``) has come for ``liveness`` intervals is dropped, with
whatever request it held: the client's retry covers it.

:class:`Queue` runs three tasks in one nursery: ``_frontend`` takes a
request only while a worker is idle (until then requests wait in the
frontend socket) and :meth:`Queue.dispatch` hands it over, ``_backend``
reads the workers, ``_heartbeat`` sends heartbeats and drops expired
workers.

Run it: ``python -m examples.pirate.queue --frontend tcp://127.0.0.1:5555
--backend tcp://127.0.0.1:5556``; Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
from collections import OrderedDict

import trio
import zmq

import trio_zmq
from examples._script import run_script

from .protocol import HEARTBEAT, READY, add_heartbeat_arguments


class Workers:
    """The workers the queue knows: when each expires, and which are idle."""

    def __init__(self, expiry_after: float) -> None:
        self._expiry_after = expiry_after
        self.expiry: dict[bytes, float] = {}
        #: Idle workers, longest-waiting first.
        self.idle: OrderedDict[bytes, None] = OrderedDict()
        self._changed = trio.Event()

    def heard_from(self, worker_id: bytes) -> None:
        """Note a message from ``worker_id``: it is alive and idle.

        A worker speaks only when it can take a request: ``READY``, a reply,
        a ``HEARTBEAT`` (it heartbeats only while idle).  So a worker the
        queue thought busy is idle again once it heartbeats: the request it
        was given crossed its heartbeat on the way (it will answer both in
        turn), or was lost with a connection, and the client retries.
        """
        self.expiry[worker_id] = trio.current_time() + self._expiry_after
        self.idle[worker_id] = None
        self._changed.set()

    def take_idle(self) -> bytes | None:
        """The longest-waiting idle worker, now busy; ``None`` if none is idle."""
        if not self.idle:
            return None
        worker_id, _ = self.idle.popitem(last=False)
        return worker_id

    async def wait_idle(self) -> None:
        """Return once some worker is idle."""
        while not self.idle:
            self._changed = trio.Event()
            await self._changed.wait()

    def purge(self) -> list[bytes]:
        """Drop and return the workers that have expired."""
        now = trio.current_time()
        dead = [worker_id for worker_id, expiry in self.expiry.items() if expiry <= now]
        for worker_id in dead:
            del self.expiry[worker_id]
            self.idle.pop(worker_id, None)
        return dead


class Queue:
    """The queue between the ROUTER sockets bound at ``frontend`` and ``backend``.

    :meth:`run` brokers until cancelled.  ``workers`` keeps track of the
    workers (by default a :class:`Workers` that expires them after
    ``liveness`` silent heartbeat intervals).  The two sockets, ``front``
    and ``back``, are made here and closed when :meth:`run` ends.
    """

    def __init__(
        self,
        ctx: trio_zmq.Context,
        frontend: str,
        backend: str,
        *,
        heartbeat_interval: float,
        liveness: int = 3,
        workers: Workers | None = None,
        verbose: bool = False,
    ) -> None:
        self.ctx = ctx
        self.frontend_endpoint = frontend
        self.backend_endpoint = backend
        self.heartbeat_interval = heartbeat_interval
        self.workers = Workers(heartbeat_interval * liveness) if workers is None else workers
        self.verbose = verbose
        self.front = ctx.socket(zmq.ROUTER)
        self.back = ctx.socket(zmq.ROUTER)

    def log(self, message: str) -> None:
        """Print ``message`` if the queue is verbose."""
        if self.verbose:
            print(message, flush=True)

    async def run(
        self, *, task_status: trio.TaskStatus[tuple[str, str]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Bind both sockets and broker requests until cancelled; then close them.

        With ``await nursery.start(queue.run)`` it returns the bound
        endpoints (``tcp://127.0.0.1:*`` binds a random port) once both are bound.
        """
        with self.front, self.back:
            self.front.linger = self.back.linger = 0
            # A worker restarted with its old id takes over the old connection.
            self.back.router_handover = 1
            self.front.bind(self.frontend_endpoint)
            self.back.bind(self.backend_endpoint)
            endpoints = (self.front.last_endpoint.decode(), self.back.last_endpoint.decode())
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._frontend)
                nursery.start_soon(self._backend)
                nursery.start_soon(self._heartbeat)
                task_status.started(endpoints)

    async def dispatch(self, request: list[bytes]) -> None:
        """Hand ``request`` to the idle worker that has waited longest.

        The worker seen idle before the request was read may have expired
        since: then the request waits for the next worker that is idle.
        """
        worker_id = self.workers.take_idle()
        while worker_id is None:
            await self.workers.wait_idle()
            worker_id = self.workers.take_idle()
        await self.back.send_multipart([worker_id, *request])

    async def _frontend(self) -> None:
        while True:
            await self.workers.wait_idle()
            await self.dispatch(await self.front.recv_multipart())

    async def _backend(self) -> None:
        workers = self.workers
        while True:
            worker_id, *message = await self.back.recv_multipart()
            if message == [READY]:
                self.log(f"worker {worker_id!r} ready")
                workers.heard_from(worker_id)
            elif message == [HEARTBEAT]:
                # Also from a worker we had dropped: it is back.
                workers.heard_from(worker_id)
            elif len(message) >= 3:  # a reply: [client_id, b"", ...]
                workers.heard_from(worker_id)
                await self.front.send_multipart(message)
            else:
                self.log(f"invalid message from worker {worker_id!r}: {message!r}")

    async def _heartbeat(self) -> None:
        while True:
            for worker_id in self.workers.purge():
                self.log(f"worker {worker_id!r} expired")
            for worker_id in list(self.workers.expiry):
                await self.back.send_multipart([worker_id, HEARTBEAT])
            await trio.sleep(self.heartbeat_interval)


async def run_queue(
    ctx: trio_zmq.Context,
    frontend: str,
    backend: str,
    *,
    heartbeat_interval: float,
    liveness: int = 3,
    verbose: bool = False,
    task_status: trio.TaskStatus[tuple[str, str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a :class:`Queue` on ``frontend`` and ``backend`` until cancelled.

    With ``await nursery.start(run_queue, ...)`` it returns the bound
    endpoints (``tcp://127.0.0.1:*`` binds a random port) once both are bound.
    """
    queue = Queue(
        ctx,
        frontend,
        backend,
        heartbeat_interval=heartbeat_interval,
        liveness=liveness,
        verbose=verbose,
    )
    await queue.run(task_status=task_status)


async def main(args: argparse.Namespace) -> None:
    """Run the queue until Ctrl-C."""
    async with trio_zmq.Context(linger=0) as ctx, trio.open_nursery() as nursery:
        frontend, backend = await nursery.start(
            lambda task_status: run_queue(
                ctx,
                args.frontend,
                args.backend,
                heartbeat_interval=args.heartbeat,
                liveness=args.liveness,
                verbose=True,
                task_status=task_status,
            )
        )
        print(f"queue: clients to {frontend}, workers to {backend}", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of ``python -m examples.pirate.queue``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frontend", default="tcp://127.0.0.1:5555", help="bind for clients")
    parser.add_argument("--backend", default="tcp://127.0.0.1:5556", help="bind for workers")
    add_heartbeat_arguments(parser)
    return parser.parse_args(argv)


if __name__ == "__main__":
    run_script(main, parse_args())
