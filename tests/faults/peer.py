"""The peer program of the fault tests, run inside a test host.

``python -m tests.faults.peer --address 10.x.y.z --relay PORT --echo PORT
--pub PORT --rep PORT [--impl trio|pyzmq] [options]`` binds the services
it is given on ``address``, prints ``ready`` and serves until killed or
until its standard input closes (the test is gone):

* relay: a PULL on PORT and a PUSH on PORT+1; every message received is
  sent on, unchanged;
* echo: a ROUTER on PORT that sends every message back to its sender;
* pub: a PUB on PORT publishing ``--rate`` messages a second (see
  ``tests/faults/messages.py``; the sender is ``pub-<pid>``, so each
  incarnation numbers from 0);
* rep: a REP on PORT that answers ``[id, payload]`` with ``[id, b"reply " +
  payload]`` after ``--delay`` seconds, first printing ``got <id in hex>``.

``--impl trio`` (the default) serves with trio_zmq, ``--impl pyzmq`` with
blocking pyzmq in threads.  Every socket gets ``--hwm`` as its high-water
marks, the ``--heartbeat`` options, and, with ``--curve-secret-file``, is
a CURVE server with the secret key of that certificate file (as
:func:`zmq.auth.create_certificates` writes it: a secret key on the command
line would be there for every local user to read).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import trio
import zmq
import zmq.auth

import trio_zmq

from tests.curve import curve_server
from tests.faults.messages import make


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--impl", choices=("trio", "pyzmq"), default="trio")
    for service in ("relay", "echo", "pub", "rep"):
        parser.add_argument(f"--{service}", type=int, metavar="PORT")
    parser.add_argument("--rate", type=float, default=200.0, help="pub: messages a second")
    parser.add_argument("--size", type=int, default=64, help="pub: payload bytes")
    parser.add_argument("--delay", type=float, default=0.0, help="rep: seconds before replying")
    parser.add_argument("--hwm", type=int, default=1000)
    parser.add_argument("--heartbeat-ivl", type=int, default=0, metavar="MS")
    parser.add_argument("--heartbeat-timeout", type=int, default=0, metavar="MS")
    parser.add_argument("--heartbeat-ttl", type=int, default=0, metavar="MS")
    parser.add_argument("--curve-secret-file", metavar="PATH")
    args = parser.parse_args(argv)
    args.curve_secret = None
    if args.curve_secret_file is not None:
        args.curve_secret = zmq.auth.load_certificate(args.curve_secret_file)[1]
        if args.curve_secret is None:
            parser.error(f"{args.curve_secret_file} holds no secret key")
    return args


def configure(sock: zmq.Socket[Any] | trio_zmq.Socket, args: argparse.Namespace) -> None:
    sock.linger = 0
    sock.sndhwm = args.hwm
    sock.rcvhwm = args.hwm
    sock.heartbeat_ivl = args.heartbeat_ivl
    sock.heartbeat_timeout = args.heartbeat_timeout
    sock.heartbeat_ttl = args.heartbeat_ttl
    if args.curve_secret is not None:
        curve_server(sock, args.curve_secret)


def exit_when_stdin_closes() -> None:
    """The test that started us is gone (or done): exit at once."""

    def watch() -> None:
        sys.stdin.buffer.read()
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


# ----------------------------------------------------------------------
# trio_zmq
# ----------------------------------------------------------------------


async def serve_trio(args: argparse.Namespace) -> None:
    async with trio_zmq.Context(linger=0) as ctx, trio.open_nursery() as nursery:

        def bound(kind: int, port: int) -> trio_zmq.Socket:
            sock = ctx.socket(kind)
            configure(sock, args)
            sock.bind(f"tcp://{args.address}:{port}")
            return sock

        if args.relay is not None:
            pull, push = bound(zmq.PULL, args.relay), bound(zmq.PUSH, args.relay + 1)
            nursery.start_soon(relay_trio, pull, push)
        if args.echo is not None:
            nursery.start_soon(echo_trio, bound(zmq.ROUTER, args.echo))
        if args.pub is not None:
            nursery.start_soon(pub_trio, bound(zmq.PUB, args.pub), args.rate, args.size)
        if args.rep is not None:
            nursery.start_soon(rep_trio, bound(zmq.REP, args.rep), args.delay)
        print("ready", flush=True)


async def relay_trio(pull: trio_zmq.Socket, push: trio_zmq.Socket) -> None:
    while True:
        await push.send_multipart(await pull.recv_multipart())


async def echo_trio(router: trio_zmq.Socket) -> None:
    while True:
        await router.send_multipart(await router.recv_multipart())


async def pub_trio(pub: trio_zmq.Socket, rate: float, size: int) -> None:
    sender = b"pub-%d" % os.getpid()
    seq = 0
    while True:
        await pub.send_multipart(make(sender, seq, size))
        seq += 1
        await trio.sleep(1 / rate)


async def rep_trio(rep: trio_zmq.Socket, delay: float) -> None:
    while True:
        request_id, payload = await rep.recv_multipart()
        print(f"got {request_id.hex()}", flush=True)
        await trio.sleep(delay)
        await rep.send_multipart([request_id, b"reply " + payload])


# ----------------------------------------------------------------------
# blocking pyzmq
# ----------------------------------------------------------------------


def serve_pyzmq(args: argparse.Namespace) -> None:
    ctx = zmq.Context()

    def bound(kind: int, port: int) -> zmq.Socket[Any]:
        sock = ctx.socket(kind)
        configure(sock, args)
        sock.bind(f"tcp://{args.address}:{port}")
        return sock

    services: list[Callable[[], None]] = []
    if args.relay is not None:
        pull, push = bound(zmq.PULL, args.relay), bound(zmq.PUSH, args.relay + 1)
        services.append(lambda: relay_pyzmq(pull, push))
    if args.echo is not None:
        router = bound(zmq.ROUTER, args.echo)
        services.append(lambda: echo_pyzmq(router))
    if args.pub is not None:
        pub = bound(zmq.PUB, args.pub)
        services.append(lambda: pub_pyzmq(pub, args.rate, args.size))
    if args.rep is not None:
        rep = bound(zmq.REP, args.rep)
        services.append(lambda: rep_pyzmq(rep, args.delay))
    for service in services:
        threading.Thread(target=service, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()  # until killed, or stdin closes


def relay_pyzmq(pull: zmq.Socket[Any], push: zmq.Socket[Any]) -> None:
    while True:
        push.send_multipart(pull.recv_multipart())


def echo_pyzmq(router: zmq.Socket[Any]) -> None:
    while True:
        router.send_multipart(router.recv_multipart())


def pub_pyzmq(pub: zmq.Socket[Any], rate: float, size: int) -> None:
    sender = b"pub-%d" % os.getpid()
    seq = 0
    while True:
        pub.send_multipart(make(sender, seq, size))
        seq += 1
        time.sleep(1 / rate)


def rep_pyzmq(rep: zmq.Socket[Any], delay: float) -> None:
    while True:
        request_id, payload = rep.recv_multipart()
        print(f"got {request_id.hex()}", flush=True)
        time.sleep(delay)
        rep.send_multipart([request_id, b"reply " + payload])


def main() -> None:
    args = parse_args()
    # A Ctrl-C in the terminal reaches the whole process group: the test
    # (or the soak) ends, and we with it, through stdin, without a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_when_stdin_closes()
    if args.impl == "trio":
        trio.run(serve_trio, args)
    else:
        serve_pyzmq(args)


if __name__ == "__main__":
    main()
