"""A CURVE peer process for the interop tests: blocking pyzmq and pyzmq's
own authenticator, nothing from trio_zmq.

Usage (from the repository's root):
  python -m tests.auth.curve_peer client ADDRESS SERVER_PUBLIC_CERT CLIENT_SECRET_CERT
      connect a REQ socket with these keys; print one line and exit 0:
        "reply <text>"     the handshake succeeded; <text> answers "ping"
        "refused <code>"   the server refused it (HANDSHAKE_FAILED_AUTH)
        "failed <event> <value>"   another handshake failure
  python -m tests.auth.curve_peer server AUTHORIZED_DIR SERVER_SECRET_CERT
      run zmq.auth.thread.ThreadAuthenticator with configure_curve(location=
      AUTHORIZED_DIR) and a CURVE REP socket on a random port of 127.0.0.1;
      print "port <n>", then answer each request with "echo: <request>"
      until standard input is closed; exit 0.

Every wait is bounded (LIMIT_MS); past it the peer says so and exits 1.
"""

from __future__ import annotations

import os
import sys

import zmq
import zmq.auth
import zmq.auth.thread
from zmq.utils.monitor import parse_monitor_message

from tests.curve import curve_client, curve_server

LIMIT_MS = 20_000
OTHER_FAILURES = (zmq.Event.HANDSHAKE_FAILED_PROTOCOL, zmq.Event.HANDSHAKE_FAILED_NO_DETAIL)


def client(address: str, server_public_cert: str, client_secret_cert: str) -> int:
    server_public, _ = zmq.auth.load_certificate(server_public_cert)
    public, secret = zmq.auth.load_certificate(client_secret_cert)
    assert secret is not None, f"no secret key in {client_secret_cert}"
    ctx = zmq.Context()
    sock = curve_client(ctx.socket(zmq.REQ), server_public, (public, secret))
    sock.linger = 0
    monitor = sock.get_monitor_socket()
    sock.connect(address)
    try:
        while monitor.poll(LIMIT_MS):
            event = parse_monitor_message(monitor.recv_multipart())
            kind = zmq.Event(event["event"])
            if kind == zmq.Event.HANDSHAKE_SUCCEEDED:
                sock.send(b"ping")
                if not sock.poll(LIMIT_MS):
                    break
                print("reply", sock.recv().decode(), flush=True)
                return 0
            if kind == zmq.Event.HANDSHAKE_FAILED_AUTH:
                print("refused", int(event["value"]), flush=True)
                return 0
            if kind in OTHER_FAILURES:
                print("failed", kind.name, int(event["value"]), flush=True)
                return 0
        print("timeout", flush=True)
        return 1
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
        sock.close(linger=0)
        ctx.term()


def server(authorized_dir: str, server_secret_cert: str) -> int:
    _, secret = zmq.auth.load_certificate(server_secret_cert)
    assert secret is not None, f"no secret key in {server_secret_cert}"
    ctx = zmq.Context()
    auth = zmq.auth.thread.ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=authorized_dir)
    sock = curve_server(ctx.socket(zmq.REP), secret)
    sock.linger = 0
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    print("port", port, flush=True)
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    try:
        while True:
            ready = dict(poller.poll(LIMIT_MS))
            if not ready:
                print("timeout", flush=True)
                return 1
            if sock in ready:
                sock.send(b"echo: " + sock.recv())
            if sys.stdin.fileno() in ready and not os.read(sys.stdin.fileno(), 1024):
                return 0
    finally:
        sock.close(linger=0)
        auth.stop()
        ctx.term()


def main() -> int:
    mode, *args = sys.argv[1:]
    if mode == "client":
        return client(*args)
    if mode == "server":
        return server(*args)
    print(f"unknown mode {mode}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
