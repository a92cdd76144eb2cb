"""The other end of ``trio-zmq bench``: a separate process using blocking pyzmq.

Run by the bench as ``python -m trio_zmq._cli._bench_peer --ipc-dir DIR``.
It uses nothing from trio_zmq and nothing async (running it as a module
imports the package, but none of it runs): whatever the bench measures, this
side is the same plain pyzmq code.

It takes one job at a time on stdin, one JSON object per line, and answers on
stdout, also one JSON object per line:

``{"job": "push" | "pull" | "echo", "transport": "tcp" | "ipc",
"messages": N, "size": S, "timeout": T}``

1. it binds a fresh socket (PUSH, PULL or REP) and answers
   ``{"ready": ADDRESS}``;
2. ``push`` sends N messages of S bytes; ``pull`` receives N messages;
   ``echo`` answers N requests with the request itself;
3. it answers ``{"done": N, "seconds": ...}``, or ``{"error": "..."}`` if
   something failed (no progress for T seconds, for example);
4. it keeps the socket open until the next request comes, then closes it
   (LINGER 0: the bench has taken everything by then).

Every blocking call has a timeout of T seconds, so a bench that died or got
stuck cannot hold this process forever; end of input on stdin ends it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

import zmq

#: The socket each job binds: the bench connects the opposite type.
JOB_SOCKET_TYPES = {"push": zmq.PUSH, "pull": zmq.PULL, "echo": zmq.REP}


def answer(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def bind(sock: zmq.Socket[bytes], transport: str, ipc_dir: str, serial: int) -> str:
    if transport == "tcp":
        port = sock.bind_to_random_port("tcp://127.0.0.1")
        return f"tcp://127.0.0.1:{port}"
    if transport == "ipc":
        address = f"ipc://{ipc_dir}/job-{serial}"
        sock.bind(address)
        return address
    raise ValueError(f"unknown transport {transport!r}")


def serve(sock: zmq.Socket[bytes], job: str, messages: int, size: int) -> None:
    """The job's message loop: plain blocking pyzmq calls."""
    if job == "push":
        payload = b"x" * size
        for _ in range(messages):
            sock.send(payload)
    elif job == "pull":
        for _ in range(messages):
            sock.recv()
    elif job == "echo":
        for _ in range(messages):
            sock.send(sock.recv())
    else:
        raise ValueError(f"unknown job {job!r}")


def run_job(
    sock: zmq.Socket[bytes], request: dict[str, Any], ipc_dir: str, serial: int
) -> dict[str, Any]:
    """Bind ``sock``, answer ready, do the job; return the final answer."""
    job = str(request["job"])
    messages = int(request["messages"])
    timeout_ms = int(float(request["timeout"]) * 1000)
    sock.rcvtimeo = sock.sndtimeo = timeout_ms
    answer({"ready": bind(sock, str(request["transport"]), ipc_dir, serial)})
    started = time.perf_counter()
    try:
        serve(sock, job, messages, int(request["size"]))
    except zmq.Again:
        return {"error": f"{job}: no progress for {timeout_ms / 1000:g} s"}
    return {"done": messages, "seconds": time.perf_counter() - started}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trio_zmq._cli._bench_peer")
    parser.add_argument("--ipc-dir", required=True, help="where ipc endpoints are made")
    args = parser.parse_args(argv)
    # The bench owns Ctrl-C: it ends this process itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    ctx.linger = 0
    job_socket: zmq.Socket[bytes] | None = None
    try:
        # Until end of input: the bench closed our stdin, or died.
        for serial, line in enumerate(iter(sys.stdin.readline, "")):
            # A job's socket stays open until the next request: by then the
            # bench has taken everything from it.  Closing it as soon as the
            # job ends would race the bench -- a disconnect can drop messages
            # the bench has not read yet (over ipc, while it is at its HWM).
            if job_socket is not None:
                job_socket.close()
                job_socket = None
            try:
                request = json.loads(line)
                job_socket = ctx.socket(JOB_SOCKET_TYPES[str(request["job"])])
                answer(run_job(job_socket, request, args.ipc_dir, serial))
            except (zmq.ZMQError, KeyError, ValueError) as exc:
                answer({"error": f"{type(exc).__name__}: {exc}"})
    except BrokenPipeError:
        # The bench is gone: leave quietly (and let nobody flush to the pipe).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        ctx.destroy(linger=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
