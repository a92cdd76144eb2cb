"""Measure CURVE handshakes through four ZAP authenticators, in one run.

    python -m benchmarks.auth [--rounds 5] [--clients 16] [--delay 0.05]

The authenticators: ``trio_zmq.auth.Authenticator`` under trio and under
asyncio, pyzmq's ``zmq.auth.thread.ThreadAuthenticator`` and
``zmq.auth.asyncio.AsyncioAuthenticator``.  The clients are the same for
all: blocking pyzmq CURVE sockets on a context of their own, driven from a
thread, connected all at once over tcp on 127.0.0.1; a handshake counts as
done when the client's monitor reports HANDSHAKE_SUCCEEDED.

Two scenarios, each a burst of ``--clients`` handshakes:

* ``slow callback``: the credentials callback is ``async`` and sleeps
  ``--delay`` seconds.  Printed: the burst's time in units of the delay
  (1.0 = every callback ran at once; N = one after the other).
* ``certificates``: the key is checked against a certificate directory.
  Printed: handshakes per second.

Rounds are interleaved (every authenticator once per round, the order
rotating); best and median per authenticator, and the ratio of each median
to trio_zmq-on-trio's, come from this one run.  Wall-clock numbers on a
shared machine: compare the ratios, not the absolute values.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import zmq
import zmq.auth
import zmq.auth.asyncio
import zmq.auth.thread
from zmq.utils.monitor import parse_monitor_message

import trio_zmq
import trio_zmq.auth

Keys = tuple[bytes, bytes]


class Setup:
    """Keys, the certificate directory and the scenario's parameters."""

    def __init__(self, root: Path, clients: int, delay: float, slow: bool) -> None:
        zmq.auth.create_certificates(root, "client")
        authorized = root / "authorized"
        authorized.mkdir(exist_ok=True)
        (authorized / "client.key").write_bytes((root / "client.key").read_bytes())
        self.authorized = authorized
        public, secret = zmq.auth.load_certificate(root / "client.key_secret")
        assert secret is not None
        self.client: Keys = (public, secret)
        self.server: Keys = zmq.curve_keypair()
        self.clients = clients
        self.delay = delay
        self.slow = slow


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
            ready = poller.poll(30_000)
            assert ready, "a handshake did not finish within 30 s"
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


def run_trio_zmq(setup: Setup, backend: str) -> float:
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

    return anyio.run(main, backend=backend)


def run_pyzmq_thread(setup: Setup) -> float:
    zctx: zmq.Context[Any] = zmq.Context()
    auth = zmq.auth.thread.ThreadAuthenticator(zctx)
    auth.start()
    try:
        configure(auth, setup)
        sock, address = server_socket(zctx, setup)
        try:
            return burst(setup, address)
        finally:
            sock.close(linger=0)
    finally:
        auth.stop()
        zctx.term()


def run_pyzmq_asyncio(setup: Setup) -> float:
    async def main() -> float:
        zctx: zmq.Context[Any] = zmq.Context()
        auth = zmq.auth.asyncio.AsyncioAuthenticator(zctx)
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

    return asyncio.run(main())


RUNNERS: dict[str, Callable[[Setup], float]] = {
    "trio_zmq (trio)": lambda setup: run_trio_zmq(setup, "trio"),
    "trio_zmq (asyncio)": lambda setup: run_trio_zmq(setup, "asyncio"),
    "pyzmq ThreadAuthenticator": run_pyzmq_thread,
    "pyzmq AsyncioAuthenticator": run_pyzmq_asyncio,
}


def measure(setup: Setup, rounds: int) -> dict[str, list[float]]:
    names = list(RUNNERS)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(RUNNERS[name](setup))
    return times


def report(
    title: str,
    times: dict[str, list[float]],
    value: Callable[[float], float],
    best_of: Callable[[list[float]], float],
) -> None:
    """One line per authenticator: ``best_of`` and median of
    ``value(seconds)``, and the median's ratio to trio_zmq-on-trio's."""
    print(title)
    reference = statistics.median(value(t) for t in times["trio_zmq (trio)"])
    for name, samples in times.items():
        values = [value(t) for t in samples]
        best = best_of(values)
        median = statistics.median(values)
        print(
            f"  {name:28} best {best:9.2f}  median {median:9.2f}  "
            f"median / trio_zmq (trio) {median / reference:6.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--delay", type=float, default=0.05)
    args = parser.parse_args()
    print(
        f"pyzmq {zmq.pyzmq_version()}, libzmq {zmq.zmq_version()}; {args.clients} clients "
        f"a burst, {args.rounds} interleaved rounds"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        slow = Setup(root, args.clients, args.delay, slow=True)
        report(
            f"slow callback ({args.delay} s each): burst time in units of the delay "
            "(lower is better)",
            measure(slow, args.rounds),
            lambda seconds: seconds / args.delay,
            min,
        )
        fast = Setup(root, args.clients, args.delay, slow=False)
        report(
            "certificates: handshakes per second (higher is better)",
            measure(fast, args.rounds),
            lambda seconds: args.clients / seconds,
            max,
        )


if __name__ == "__main__":
    main()
