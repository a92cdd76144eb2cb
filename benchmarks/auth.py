"""``python -m benchmarks auth``: CURVE handshakes through four ZAP authenticators.

The authenticators: ``trio_zmq.auth.Authenticator`` under trio and under
asyncio, pyzmq's ``zmq.auth.thread.ThreadAuthenticator`` and
``zmq.auth.asyncio.AsyncioAuthenticator``.  The clients are the same for
all: blocking pyzmq CURVE sockets on a context of their own, driven from a
thread, connected all at once over tcp on 127.0.0.1; a handshake counts as
done when the client's monitor reports HANDSHAKE_SUCCEEDED.

Two workloads, each a burst of ``--clients`` handshakes:

* ``slow``: the credentials callback is ``async`` and sleeps ``--delay``
  seconds.  The figure: the burst's time in units of the delay (1.0 =
  every callback ran at once; N = one after the other).
* ``certificates``: the key is checked against a certificate directory.
  The figure: handshakes per second.

Ratios are to trio_zmq on trio.  Wall-clock numbers on a shared machine:
compare the ratios, not the absolute values.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, final

import anyio
import anyio.to_thread
import zmq
import zmq.auth
import zmq.auth.asyncio
import zmq.auth.thread
from zmq.utils.monitor import parse_monitor_message

import trio_zmq
import trio_zmq.auth

from . import loops
from .arguments import positive_int
from .framework import Implementation, Plan, Trial, Workload, WorkloadSet, timed_out

Keys = tuple[bytes, bytes]


@dataclasses.dataclass(frozen=True)
class Burst:
    """A workload's parameters: the burst, and what the callback does."""

    clients: int
    delay: float
    slow: bool
    timeout: float


@final
class Setup:
    """Keys and the certificate directory (made once per run), and the burst."""

    def __init__(self, root: Path, burst: Burst) -> None:
        authorized = root / "authorized"
        if not authorized.exists():
            zmq.auth.create_certificates(root, "client")
            authorized.mkdir()
            (authorized / "client.key").write_bytes((root / "client.key").read_bytes())
        self.authorized = authorized
        public, secret = zmq.auth.load_certificate(root / "client.key_secret")
        assert secret is not None
        self.client: Keys = (public, secret)
        self.server: Keys = zmq.curve_keypair()
        self.clients = burst.clients
        self.delay = burst.delay
        self.slow = burst.slow
        self.timeout = burst.timeout


class SlowProvider:
    """An async callback that takes ``delay`` seconds (anyio.sleep: it runs
    on trio, on asyncio, and in the ThreadAuthenticator's asyncio loop)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def callback(self, domain: str, client_public_key: bytes) -> bool:
        await anyio.sleep(self.delay)
        return True


def configure(auth: Any, setup: Setup) -> None:
    """The same configuration for pyzmq's authenticators and ours."""
    if setup.slow:
        auth.configure_curve_callback(credentials_provider=SlowProvider(setup.delay))
    else:
        auth.configure_curve(location=str(setup.authorized))


def burst(setup: Setup, address: str) -> float:
    """Connect ``setup.clients`` CURVE clients at once (blocking pyzmq, a
    context of their own); seconds until every handshake succeeded."""
    ctx = zmq.Context()
    socks, monitors = [], []
    try:
        for _ in range(setup.clients):
            sock = ctx.socket(zmq.PUSH)
            sock.linger = 0
            sock.curve_serverkey = setup.server[0]
            sock.curve_publickey, sock.curve_secretkey = setup.client
            socks.append(sock)
            monitors.append(sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED))
        poller = zmq.Poller()
        for monitor in monitors:
            poller.register(monitor, zmq.POLLIN)
        start = time.perf_counter()
        for sock in socks:
            sock.connect(address)
        done = 0
        while done < setup.clients:
            ready = poller.poll(int(setup.timeout * 1000))
            if not ready:
                raise timed_out(setup.timeout)
            for monitor, _ in ready:
                parse_monitor_message(monitor.recv_multipart())
                poller.unregister(monitor)
                done += 1
        return time.perf_counter() - start
    finally:
        for sock, monitor in zip(socks, monitors, strict=True):
            sock.disable_monitor()
            monitor.close(linger=0)
            sock.close(linger=0)
        ctx.term()


def server_socket(zctx: zmq.Context[Any], setup: Setup) -> tuple[zmq.Socket[Any], str]:
    sock = zctx.socket(zmq.PULL)
    sock.linger = 0
    sock.curve_server = True
    sock.curve_secretkey = setup.server[1]
    return sock, f"tcp://127.0.0.1:{sock.bind_to_random_port('tcp://127.0.0.1')}"


def run_trio_zmq(loop: loops.Loop[float], setup: Setup) -> float:
    """A burst through trio_zmq's authenticator, on ``loop``."""

    async def main() -> float:
        async with trio_zmq.Context(linger=0) as ctx:
            auth = trio_zmq.auth.Authenticator(ctx)
            configure(auth, setup)
            async with auth:
                sock, address = server_socket(ctx.zmq_context, setup)
                try:
                    return await anyio.to_thread.run_sync(burst, setup, address)
                finally:
                    sock.close(linger=0)

    return loop(main, setup.timeout)


def run_pyzmq(authenticator: Callable[[zmq.Context[Any]], Any], setup: Setup) -> float:
    """A burst through one of pyzmq's authenticators, the clients in a
    thread (an AsyncioAuthenticator needs the asyncio loop running)."""

    async def main() -> float:
        zctx: zmq.Context[Any] = zmq.Context()
        auth = authenticator(zctx)
        auth.start()
        try:
            configure(auth, setup)
            sock, address = server_socket(zctx, setup)
            try:
                return await asyncio.to_thread(burst, setup, address)
            finally:
                sock.close(linger=0)
        finally:
            auth.stop()
            zctx.term()

    return loops.on_asyncio(main, setup.timeout)


#: The rows: each runs a burst, returns its seconds.
IMPLEMENTATIONS: tuple[Implementation[Callable[[Setup], float]], ...] = (
    Implementation("trio_zmq", "trio_zmq (trio)", functools.partial(run_trio_zmq, loops.on_trio)),
    Implementation(
        "trio_zmq_asyncio",
        "trio_zmq (asyncio)",
        functools.partial(run_trio_zmq, loops.on_anyio_asyncio),
    ),
    Implementation(
        "pyzmq_thread",
        "pyzmq ThreadAuthenticator",
        functools.partial(run_pyzmq, zmq.auth.thread.ThreadAuthenticator),
    ),
    Implementation(
        "pyzmq_asyncio",
        "pyzmq AsyncioAuthenticator",
        functools.partial(run_pyzmq, zmq.auth.asyncio.AsyncioAuthenticator),
    ),
)


@final
class AuthSet(WorkloadSet[Burst, Callable[[Setup], float]]):
    name = "auth"
    help = "CURVE handshakes through trio_zmq.auth and pyzmq's two ZAP authenticators"
    description = (
        "Bursts of CURVE handshakes through trio_zmq.auth.Authenticator (on trio and on "
        "asyncio), pyzmq's ThreadAuthenticator and AsyncioAuthenticator: with a slow "
        "async credentials callback, and against a certificate directory."
    )
    implementations = IMPLEMENTATIONS
    baselines = (("trio_zmq", "vs trio_zmq"),)
    groups = ("slow", "certificates")
    quick_rounds = 1
    quick_help = "one round of 4 clients, 0.01 s callbacks (smoke test)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--clients", type=positive_int, help="handshakes per burst (16)")
        parser.add_argument("--delay", type=float, help="seconds the slow callback takes (0.05)")

    def workloads(self, args: argparse.Namespace, notes: list[str]) -> list[Workload[Burst]]:
        clients = args.clients or (4 if args.quick else 16)
        delay = args.delay or (0.01 if args.quick else 0.05)
        detail = f"a burst of {clients} clients"
        return [
            Workload(
                "slow",
                f"slow callback ({delay:g} s each): burst time in units of the delay",
                "delays",
                Burst(clients, delay, True, args.timeout),
                "slow",
                higher_is_better=False,
                fmt=",.2f",
                detail=detail,
            ),
            Workload(
                "certificates",
                "certificates",
                "handshakes/s",
                Burst(clients, delay, False, args.timeout),
                "certificates",
                fmt=",.1f",
                detail=detail,
            ),
        ]

    @contextlib.contextmanager
    def session(self, plan: Plan[Burst]) -> Iterator[Trial[Burst, Callable[[Setup], float]]]:
        """The keys and certificates, in a directory of the run's own."""
        with tempfile.TemporaryDirectory() as tmp:

            def trial(
                workload: Workload[Burst], impl: Implementation[Callable[[Setup], float]]
            ) -> float:
                burst = workload.params
                seconds = impl.run(Setup(Path(tmp), burst))
                return seconds / burst.delay if burst.slow else burst.clients / seconds

            yield trial


SET = AuthSet()
