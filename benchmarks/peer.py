"""The other end of ``python -m benchmarks bench``: blocking pyzmq, in a process or a thread.

Run by the bench as a script, ``python benchmarks/peer.py --ipc-dir DIR``
(``python -m benchmarks.peer`` works too, from a checkout).  It uses nothing
from trio_zmq and nothing async: whatever the bench measures, this side is
the same plain pyzmq code.

It takes one job at a time on stdin, one JSON object per line, and answers on
stdout, also one JSON object per line:

``{"job": "push" | "pull" | "echo" | "router" | "publish", "transport":
"tcp" | "ipc", "messages": N, "size": S, "timeout": T, "subscribers": K}``

1. it binds a fresh socket (see ``JOB_SOCKET_TYPES``) and answers
   ``{"ready": ADDRESS}``;
2. ``push`` sends N messages of S bytes; ``pull`` receives N messages;
   ``echo`` (REP) and ``router`` (ROUTER) answer N requests with the
   request itself; ``publish`` (XPUB) waits for K subscriptions, then
   publishes N messages of S bytes to all of them;
3. it answers ``{"done": N, "seconds": ...}``, or ``{"error": "..."}`` if
   something failed (no progress for T seconds, for example);
4. it keeps the socket open until the next request comes, then closes it
   (LINGER 0: the bench has taken everything by then).

Every blocking call has a timeout of T seconds, so a bench that died or got
stuck cannot hold this process forever; end of input on stdin ends it.

:class:`ThreadPeer` runs the same jobs over ``inproc://`` in a thread of the
bench process, on the context of the implementation under test (inproc
endpoints exist only within one context).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import zmq

#: The socket each job binds: the bench connects the opposite type.
JOB_SOCKET_TYPES = {
    "push": zmq.PUSH,
    "pull": zmq.PULL,
    "echo": zmq.REP,
    "router": zmq.ROUTER,
    "publish": zmq.XPUB,
}


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


def configure(sock: zmq.Socket[bytes], request: dict[str, Any]) -> None:
    """Socket options, set before binding: timeouts, and the publisher's."""
    timeout_ms = int(float(request["timeout"]) * 1000)
    sock.rcvtimeo = sock.sndtimeo = timeout_ms
    if request["job"] == "publish":
        # Every subscription reaches us, even a repeated one: we count them
        # to know that all subscribers are connected before publishing.
        sock.setsockopt(zmq.XPUB_VERBOSE, 1)
        # No high-water mark: a PUB drops what a slow subscriber cannot
        # take, and the bench counts on receiving every message.
        sock.sndhwm = 0


def serve(sock: zmq.Socket[bytes], request: dict[str, Any]) -> None:
    """The job's message loop: plain blocking pyzmq calls."""
    job, messages = str(request["job"]), int(request["messages"])
    payload = b"x" * int(request["size"])
    if job == "push":
        for _ in range(messages):
            sock.send(payload)
    elif job == "pull":
        for _ in range(messages):
            sock.recv()
    elif job == "echo":
        for _ in range(messages):
            sock.send(sock.recv())
    elif job == "router":
        for _ in range(messages):
            sock.send_multipart(sock.recv_multipart())  # [identity, request]
    elif job == "publish":
        for _ in range(int(request.get("subscribers", 1))):
            sock.recv()  # b"\x01" + topic: one subscriber has joined
        for _ in range(messages):
            sock.send(payload)
    else:
        raise ValueError(f"unknown job {job!r}")


def run_job(
    sock: zmq.Socket[bytes], request: dict[str, Any], ipc_dir: str, serial: int
) -> dict[str, Any]:
    """Bind ``sock``, answer ready, do the job; return the final answer."""
    configure(sock, request)
    answer({"ready": bind(sock, str(request["transport"]), ipc_dir, serial)})
    started = time.perf_counter()
    try:
        serve(sock, request)
    except zmq.Again:
        return {"error": f"{request['job']}: no progress for {float(request['timeout']):g} s"}
    return {"done": int(request["messages"]), "seconds": time.perf_counter() - started}


# ----------------------------------------------------------------------
# The peer as a thread, for inproc
# ----------------------------------------------------------------------


class PeerError(Exception):
    """The peer thread failed or got stuck; the message says how."""


#: How often a peer thread holding its socket looks for its context's termination.
HOLD_POLL_SECONDS = 0.05


class ThreadPeer:
    """One job, served over inproc by a thread of the bench process.

    The trial calls :meth:`attach` with its pyzmq context once it has one
    (the peer binds there, so that the trial can connect), and
    :meth:`finish` once it has everything.  As with the process, neither
    side closes before the other has everything: the thread keeps its
    socket open until ``finish``, or until the trial terminates its context
    without calling it (it was interrupted, or failed), or for at most the
    job's timeout.  A failed job (a timeout, or ETERM because the trial
    terminated its context) closes the socket at once.
    """

    def __init__(self, request: dict[str, Any], address: str) -> None:
        self._request = request
        self._address = address
        self._timeout = float(request["timeout"])
        self._thread: threading.Thread | None = None
        self._released = threading.Event()
        self._error: str | None = None

    def attach(self, zctx: zmq.Context[Any]) -> None:
        """Bind on ``zctx`` and start serving; later calls do nothing."""
        if self._thread is not None:
            return
        # A plain socket, even on a zmq.asyncio context.
        sock: zmq.Socket[bytes] = zctx.socket(
            JOB_SOCKET_TYPES[str(self._request["job"])], socket_class=zmq.Socket
        )
        try:
            configure(sock, self._request)
            sock.bind(self._address)
        except BaseException:
            sock.close(linger=0)
            raise
        self._thread = threading.Thread(
            target=self._serve, args=(sock,), name="trio-zmq-bench-peer", daemon=True
        )
        self._thread.start()

    def _serve(self, sock: zmq.Socket[bytes]) -> None:
        try:
            serve(sock, self._request)
        except zmq.ZMQError as exc:
            self._error = f"the peer thread failed: {exc}"
        else:
            self._hold(sock)
        finally:
            sock.close(linger=0)

    def _hold(self, sock: zmq.Socket[bytes]) -> None:
        """Until ``finish``, the job's timeout, or the context's termination
        (which would wait for this socket: reading ZMQ_EVENTS raises ETERM
        once it has begun)."""
        deadline = time.monotonic() + self._timeout
        while not self._released.wait(HOLD_POLL_SECONDS) and time.monotonic() < deadline:
            try:
                sock.getsockopt(zmq.EVENTS)
            except zmq.ContextTerminated:
                return

    def finish(self) -> None:
        """Let the thread close its socket and end; raise if the job failed."""
        if self._thread is None:
            return
        self._released.set()
        self._thread.join(self._timeout + 5)
        if self._thread.is_alive():
            raise PeerError(f"the peer thread made no progress for {self._timeout:g} s")
        if self._error is not None:
            raise PeerError(self._error)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/peer.py")
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
