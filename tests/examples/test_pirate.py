"""examples/pirate: the Lazy Pirate client, Paranoid Pirate queue and workers.

The queue and the clients run in the test's trio run; every worker is a
real process (``python -m examples.pirate.worker``), so it can be killed
with SIGKILL mid-request and started again under the same id.  Each test
kills its processes on the way out, and every wait has a bound.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trio_zmq
from examples.pirate.client import request
from examples.pirate.protocol import worker_reply
from examples.pirate.queue import run_queue
from trio_zmq.testing import ChaosSchedule, chaos_mode, chaos_schedules

from tests.helpers import ROOT, kill_process

HEARTBEAT = 0.1  # seconds; the workers expire after 3 silent intervals
TIMEOUT = 0.5  # the client's wait per attempt
RETRIES = 3
#: How long one request may take at most, attempts and slack included.
REQUEST_BOUND = (1 + RETRIES) * TIMEOUT + 5
STARTUP_BOUND = 30  # a worker process importing trio and pyzmq on a busy machine


class Worker:
    """One worker process at a time under a fixed id, restartable."""

    def __init__(self, backend: str, worker_id: str, work_seconds: float = 0.0) -> None:
        self.backend = backend
        self.id = worker_id
        self.work_seconds = work_seconds
        self.process: trio.Process | None = None
        self._buffer = b""
        #: How many running processes of this worker were killed.
        self.kills = 0

    @property
    def alive(self) -> bool:
        return self.process is not None

    async def start(self) -> None:
        """Start the process (killing a running one) and wait until it is ready."""
        await self.kill()
        self.process = await trio.lowlevel.open_process(
            [
                sys.executable,
                "-m",
                "examples.pirate.worker",
                "--connect",
                self.backend,
                "--id",
                self.id,
                "--heartbeat",
                str(HEARTBEAT),
                "--work-seconds",
                str(self.work_seconds),
                "--reconnect-initial",
                str(HEARTBEAT),
                "--reconnect-max",
                str(4 * HEARTBEAT),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        self._buffer = b""
        await self.wait_for("ready")

    async def wait_for(self, prefix: str) -> str:
        """The worker's next output line that starts with ``prefix``."""
        assert self.process is not None
        assert self.process.stdout is not None
        with trio.fail_after(STARTUP_BOUND):
            while True:
                line, newline, rest = self._buffer.partition(b"\n")
                if newline:
                    self._buffer = rest
                    if line.decode().startswith(prefix):
                        return line.decode()
                    continue
                chunk = await self.process.stdout.receive_some()
                assert chunk, f"worker {self.id} exited before saying {prefix!r}"
                self._buffer += chunk

    async def kill(self) -> None:
        """SIGKILL the process, if one runs, and reap it."""
        if self.process is None:
            return
        process, self.process = self.process, None
        self.kills += 1
        await kill_process(process)
        if process.stdout is not None:
            await process.stdout.aclose()


class Pirates:
    """A queue in the test's nursery and its workers, as processes."""

    def __init__(self, ctx: trio_zmq.Context, frontend: str, backend: str) -> None:
        self.ctx = ctx
        self.frontend = frontend
        self.backend = backend
        self.workers: list[Worker] = []

    async def add_worker(self, worker_id: str, work_seconds: float = 0.0) -> Worker:
        worker = Worker(self.backend, worker_id, work_seconds)
        self.workers.append(worker)
        await worker.start()
        return worker

    @property
    def kills(self) -> int:
        """Worker processes killed so far (restarts included)."""
        return sum(worker.kills for worker in self.workers)

    async def request(
        self,
        payload: bytes,
        *,
        retries: int = RETRIES,
        timeout: float = TIMEOUT,
        strays: list[list[bytes]] | None = None,
    ) -> bytes | None:
        """The client's ``request``; misrouted replies go to ``strays``."""
        with trio.fail_after(REQUEST_BOUND + retries * timeout):
            return await request(
                self.ctx,
                self.frontend,
                payload,
                timeout=timeout,
                retries=retries,
                on_stray=None if strays is None else strays.append,
            )

    def answered_by(self, reply: bytes | None, payload: bytes) -> str:
        """Which worker gave ``reply``, after checking it answers ``payload``."""
        assert reply is not None, f"{payload!r} got no reply"
        for worker in self.workers:
            if reply == worker_reply(worker.id.encode(), payload):
                return worker.id
        raise AssertionError(f"{reply!r} is no worker's reply to {payload!r}")


@asynccontextmanager
async def pirates() -> AsyncIterator[Pirates]:
    """A running queue on random 127.0.0.1 ports; its workers die on exit."""
    async with trio_zmq.Context(linger=0) as ctx, trio.open_nursery() as nursery:
        frontend, backend = await nursery.start(
            lambda task_status: run_queue(
                ctx,
                "tcp://127.0.0.1:*",
                "tcp://127.0.0.1:*",
                heartbeat_interval=HEARTBEAT,
                task_status=task_status,
            )
        )
        crew = Pirates(ctx, frontend, backend)
        try:
            yield crew
        finally:
            for worker in crew.workers:
                await worker.kill()
            nursery.cancel_scope.cancel()


async def test_normal_run() -> None:
    async with pirates() as crew:
        await crew.add_worker("w1")
        await crew.add_worker("w2")
        replies: dict[bytes, bytes | None] = {}

        async def ask(payload: bytes) -> None:
            replies[payload] = await crew.request(payload)

        async with trio.open_nursery() as nursery:
            for number in range(6):
                nursery.start_soon(ask, b"request %d" % number)
        for payload, reply in replies.items():
            crew.answered_by(reply, payload)
        assert len(replies) == 6


async def test_worker_killed_mid_request() -> None:
    async with pirates() as crew:
        stuck = await crew.add_worker("stuck", work_seconds=3600)
        result: list[bytes | None] = []

        async def ask() -> None:
            result.append(await crew.request(b"job", retries=20))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask)
            await stuck.wait_for("working")
            await stuck.kill()  # mid-request: the reply never comes
            await crew.add_worker("healthy")
        assert crew.answered_by(result[0], b"job") == "healthy"


async def test_all_workers_dead() -> None:
    async with pirates() as crew:
        worker = await crew.add_worker("w1")
        assert crew.answered_by(await crew.request(b"before"), b"before") == "w1"
        await worker.kill()
        assert await crew.request(b"after", retries=2) is None


async def test_worker_restarted_is_taken_back() -> None:
    async with pirates() as crew:
        worker = await crew.add_worker("w1")
        await worker.kill()
        # The queue's rotation loses w1: the request goes unanswered.
        assert await crew.request(b"while dead", retries=1) is None
        await worker.start()  # the same id, a new process: READY, heartbeats
        for number in range(3):
            payload = b"again %d" % number
            assert crew.answered_by(await crew.request(payload), payload) == "w1"


async def test_worker_reconnects_when_the_queue_goes_silent() -> None:
    async with trio_zmq.Context(linger=0) as ctx, trio.open_nursery() as nursery:
        queue_scope = trio.CancelScope()

        async def queue(task_status: trio.TaskStatus[tuple[str, str]]) -> None:
            with queue_scope:
                await run_queue(
                    ctx,
                    "tcp://127.0.0.1:*",
                    "tcp://127.0.0.1:*",
                    heartbeat_interval=HEARTBEAT,
                    task_status=task_status,
                )

        frontend, backend = await nursery.start(queue)
        worker = Worker(backend, "w1")
        try:
            await worker.start()
            queue_scope.cancel()  # the queue dies; its ports are free again
            await worker.wait_for("queue silent")
            crew = Pirates(ctx, frontend, backend)
            crew.workers.append(worker)
            # A new queue on the same endpoints: the worker comes back to it.
            await nursery.start(
                lambda task_status: run_queue(
                    ctx, frontend, backend, heartbeat_interval=HEARTBEAT, task_status=task_status
                )
            )
            await worker.wait_for("ready")
            assert crew.answered_by(await crew.request(b"back"), b"back") == "w1"
        finally:
            await worker.kill()
            nursery.cancel_scope.cancel()


def test_scripts_run_and_stop_on_ctrl_c(tmp_path: Path) -> None:
    """``python -m examples.pirate.queue|worker|client``, over ipc; Ctrl-C
    (SIGINT) stops the queue and the worker with status 130, no traceback."""
    frontend, backend = f"ipc://{tmp_path}/frontend", f"ipc://{tmp_path}/backend"

    def start(*args: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", *args, "--heartbeat", str(HEARTBEAT)]
        return subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    servers = [
        start("examples.pirate.queue", "--frontend", frontend, "--backend", backend),
        start("examples.pirate.worker", "--connect", backend, "--id", "w1"),
    ]
    try:
        client = subprocess.run(
            [
                sys.executable,
                "-m",
                "examples.pirate.client",
                "--connect",
                frontend,
                "--requests",
                "3",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert client.returncode == 0, client.stderr
        assert client.stdout.splitlines() == [f"request {n}: w1 request {n}" for n in range(3)]
        for server in servers:
            server.send_signal(signal.SIGINT)
            _, stderr = server.communicate(timeout=30)
            assert server.returncode == 130
            assert "Traceback" not in stderr
    finally:
        for server in servers:
            server.kill()
            server.communicate(timeout=30)


# The property: a random schedule of requests, kills and restarts.

#: The property's wait per attempt.  With at most 10 requests of at most
#: 0.05 s of work each, a queue with a live worker answers every request's
#: first attempt within it: a request may then fail only because of a fault.
PROPERTY_TIMEOUT = 1.0

steps = st.lists(
    st.one_of(
        st.tuples(st.just("request"), st.just(0)),
        st.tuples(st.just("kill"), st.integers(0, 2)),
        st.tuples(st.just("restart"), st.integers(0, 2)),
        st.tuples(st.just("pause"), st.integers(0, 5)),
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    work_seconds=st.lists(st.sampled_from([0.0, 0.05]), min_size=1, max_size=3),
    schedule=steps,
    chaos=chaos_schedules(max_decisions=32),
)
def test_every_request_answered_once_or_failed(
    work_seconds: list[float], schedule: list[tuple[str, int]], chaos: ChaosSchedule
) -> None:
    """Each request gets the reply to *its* payload, once, or is reported
    failed after its retries -- and fails only if a worker was dead when it
    was sent or was killed while it waited; no client ever sees a reply
    meant for another (a misrouting queue); afterwards, with every worker
    back, a request is answered (the queue and the workers recover)."""
    results: dict[bytes, bytes | None] = {}
    strays: list[list[bytes]] = []

    async def main() -> None:
        async with pirates() as crew:
            for number, seconds in enumerate(work_seconds):
                await crew.add_worker(f"w{number}", seconds)
            async with trio.open_nursery() as clients:

                async def ask(payload: bytes) -> None:
                    kills, all_alive = crew.kills, all(w.alive for w in crew.workers)
                    reply = await crew.request(payload, timeout=PROPERTY_TIMEOUT, strays=strays)
                    results[payload] = reply
                    if reply is None:
                        assert not all_alive or crew.kills != kills, (
                            f"{payload!r} failed with every worker alive and none killed"
                        )

                for number, (step, argument) in enumerate(schedule):
                    worker = crew.workers[argument % len(crew.workers)]
                    if step == "request":
                        clients.start_soon(ask, b"request %d" % number)
                    elif step == "kill":
                        await worker.kill()
                    elif step == "restart":
                        await worker.start()
                    else:
                        await trio.sleep(argument * HEARTBEAT)
            for worker in crew.workers:
                if not worker.alive:
                    await worker.start()
            final = await crew.request(b"final", retries=10, strays=strays)
            crew.answered_by(final, b"final")
            for payload, reply in results.items():
                if reply is not None:
                    crew.answered_by(reply, payload)

    with chaos_mode(chaos):
        trio.run(main)
    assert strays == [], f"replies delivered to the wrong client: {strays!r}"
    assert len(results) == sum(step == "request" for step, _ in schedule)
