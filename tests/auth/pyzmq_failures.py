"""What pyzmq's authenticators do when a callback raises, and when they stop
while a callback runs: the pyzmq column of docs/auth.md's table.

    python -m tests.auth.pyzmq_failures

Blocking pyzmq clients with fresh CURVE keys, each watched on its monitor
for a few seconds (WINDOW); prints one line per finding.  Not a test: it
describes pyzmq (27.x), whose behaviour is not this project's to assert.
trio_zmq's own behaviour in the same cases is asserted by
tests/auth/test_authenticator.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import zmq
import zmq.auth.asyncio
import zmq.auth.thread
from zmq.utils.monitor import parse_monitor_message

from tests.curve import curve_client, curve_server

WINDOW = 3.0
ENDS = {
    zmq.EVENT_HANDSHAKE_SUCCEEDED,
    zmq.EVENT_HANDSHAKE_FAILED_AUTH,
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL,
}
SERVER_PUBLIC, SERVER_SECRET = zmq.curve_keypair()


def handshake(ctx: zmq.Context[Any], address: str, window: float = WINDOW) -> str:
    """How a new CURVE client's handshake ends within ``window`` seconds."""
    client = curve_client(ctx.socket(zmq.PUSH), SERVER_PUBLIC)
    client.linger = 0
    monitor = client.get_monitor_socket()
    client.connect(address)
    try:
        deadline = time.monotonic() + window
        while (left := deadline - time.monotonic()) > 0 and monitor.poll(left * 1000):
            event = parse_monitor_message(monitor.recv_multipart())
            if event["event"] in ENDS:
                return f"{zmq.Event(event['event']).name} {int(event['value'])}"
        return f"no end of the handshake within {window:.0f} s"
    finally:
        client.disable_monitor()
        monitor.close(linger=0)
        client.close(linger=0)


def server(ctx: zmq.Context[Any]) -> tuple[zmq.Socket[Any], str]:
    sock = curve_server(ctx.socket(zmq.PULL), SERVER_SECRET)
    sock.linger = 0
    return sock, f"tcp://127.0.0.1:{sock.bind_to_random_port('tcp://127.0.0.1')}"


class Raising:
    def callback(self, domain: str, key: bytes) -> bool:
        raise LookupError("the key store is down")


class Slow:
    """An async callback that takes two seconds, then lets the client in."""

    def __init__(self) -> None:
        self.entered = threading.Event()

    async def callback(self, domain: str, key: bytes) -> bool:
        self.entered.set()
        await asyncio.sleep(2)
        return True


def thread_authenticator() -> None:
    ctx: zmq.Context[Any] = zmq.Context()
    sock, address = server(ctx)
    auth = zmq.auth.thread.ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve_callback(credentials_provider=Raising())
    print("ThreadAuthenticator, a callback raises:")
    print("  that client:", handshake(ctx, address))
    print("  the next client:", handshake(ctx, address))
    print("  its thread is alive:", auth.is_alive())
    stopper = threading.Thread(target=auth.stop, daemon=True)
    stopper.start()
    stopper.join(WINDOW)
    print(f"  stop() returned within {WINDOW:.0f} s:", not stopper.is_alive())
    sock.close(linger=0)
    # That context cannot be terminated (stop() holds a socket): a new one.
    ctx = zmq.Context()
    sock, address = server(ctx)
    auth = zmq.auth.thread.ThreadAuthenticator(ctx)
    auth.start()
    slow = Slow()
    auth.configure_curve_callback(credentials_provider=slow)
    outcome: list[str] = []
    client = threading.Thread(target=lambda: outcome.append(handshake(ctx, address, 5)))
    client.start()
    slow.entered.wait(5)
    start = time.monotonic()
    auth.stop()
    took = time.monotonic() - start
    client.join()
    print("ThreadAuthenticator, stop() while a 2 s callback runs:")
    print(f"  stop() took {took:.2f} s; that client: {outcome[0]}")
    sock.close(linger=0)
    ctx.term()


async def asyncio_authenticator() -> None:
    ctx: zmq.Context[Any] = zmq.Context()
    sock, address = server(ctx)
    auth = zmq.auth.asyncio.AsyncioAuthenticator(ctx)
    auth.start()
    auth.configure_curve_callback(credentials_provider=Raising())
    print("AsyncioAuthenticator, a callback raises:")
    print("  that client:", await asyncio.to_thread(handshake, ctx, address))
    print("  the next client:", await asyncio.to_thread(handshake, ctx, address))
    auth.stop()
    await asyncio.sleep(0.5)  # the reaper frees the ZAP endpoint
    auth = zmq.auth.asyncio.AsyncioAuthenticator(ctx)
    auth.start()
    slow = Slow()
    auth.configure_curve_callback(credentials_provider=slow)
    outcome = asyncio.ensure_future(asyncio.to_thread(handshake, ctx, address, 5))
    await asyncio.to_thread(slow.entered.wait, 5)
    auth.stop()
    print("AsyncioAuthenticator, stop() while a 2 s callback runs:")
    print("  that client:", await outcome)
    sock.close(linger=0)
    ctx.term()


def main() -> None:
    print(f"pyzmq {zmq.pyzmq_version()}, libzmq {zmq.zmq_version()}")
    thread_authenticator()
    asyncio.run(asyncio_authenticator())


if __name__ == "__main__":
    main()
