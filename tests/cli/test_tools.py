"""``trio-zmq send``, ``recv``, ``proxy``, ``monitor`` and ``keys``, as a shell runs them.

Each test runs the tools as subprocesses, most over ``ipc://`` endpoints in
a temporary directory (no port to pick), one over TCP on a free port.  A
receiver binds and a sender connects (a connect retries until the bind is
there, so the start order does not matter).  Every wait is bounded: a
liveness bound, not a timing assertion.
"""

from __future__ import annotations

import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq
import zmq.auth

from trio_zmq._cli._command import INTERRUPTED

from .test_cli import _WITH_CTRL_C, _first_line, _trio_zmq

#: Seconds any one tool may take (a liveness bound).
_BOUND = 30.0


def _endpoint(tmp_path: Path, name: str) -> str:
    return f"ipc://{tmp_path}/{name}"


def _start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*_trio_zmq(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen[bytes]) -> tuple[int, bytes, bytes]:
    try:
        out, err = process.communicate(timeout=_BOUND)
    finally:
        if process.returncode is None:
            process.kill()
            process.communicate()
    return process.returncode, out, err


def _run(*args: str, stdin: bytes = b"") -> tuple[int, bytes, bytes]:
    done = subprocess.run(
        [*_trio_zmq(), *args], input=stdin, capture_output=True, timeout=_BOUND, check=False
    )
    return done.returncode, done.stdout, done.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_lines_go_from_send_to_recv_over_tcp() -> None:
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    receiver = _start("recv", "-b", endpoint, "-n", "3", "--timeout", str(_BOUND))
    sent = _run("send", "-c", endpoint, "--timeout", str(_BOUND), stdin=b"one\ntwo\n\nfour\n")
    assert sent == (0, b"", b"")
    assert _finish(receiver) == (0, b"one\ntwo\n\n", b"")


def test_a_delimiter_makes_multipart_messages(tmp_path: Path) -> None:
    endpoint = _endpoint(tmp_path, "multipart")
    receiver = _start("recv", "-b", endpoint, "-t", "DEALER", "-n", "2", "-d", ",")
    sent = _run("send", "-c", endpoint, "-t", "DEALER", "-d", "\\t", stdin=b"a\tb\tc\nd\n")
    assert sent == (0, b"", b"")
    assert _finish(receiver) == (0, b"a,b,c\nd\n", b"")


def test_raw_binary_round_trip(tmp_path: Path) -> None:
    endpoint = _endpoint(tmp_path, "raw")
    data = bytes(range(256)) * 64 + b"\n\r\n\x00"
    receiver = _start("recv", "-b", endpoint, "--raw", "-n", "1")
    assert _run("send", "-c", endpoint, "--raw", stdin=data) == (0, b"", b"")
    assert _finish(receiver) == (0, data, b"")


def test_count_stops_the_sender_and_the_receiver(tmp_path: Path) -> None:
    endpoint = _endpoint(tmp_path, "count")
    receiver = _start("recv", "-b", endpoint, "-n", "2", "--progress")
    lines = b"".join(b"%d\n" % n for n in range(10))
    assert _run("send", "-c", endpoint, "-n", "2", stdin=lines) == (0, b"", b"")
    status, out, err = _finish(receiver)
    assert (status, out) == (0, b"0\n1\n")
    assert err.decode().splitlines()[-1] == "trio-zmq recv: 2 messages"


def test_req_rep_prints_the_replies(tmp_path: Path) -> None:
    endpoint = _endpoint(tmp_path, "reqrep")
    server = _start("recv", "-b", endpoint, "-t", "REP", "-n", "2", "--reply", "ok")
    sent = _run("send", "-c", endpoint, "-t", "REQ", stdin=b"ping\npong\n")
    assert sent == (0, b"ok\nok\n", b"")
    assert _finish(server) == (0, b"ping\npong\n", b"")


def _keys(directory: Path, name: str) -> tuple[str, str]:
    status, out, err = _run("keys", str(directory), name)
    assert (status, err) == (0, b"")
    public, secret = out.decode().splitlines()
    assert zmq.auth.load_certificate(secret)[1] is not None
    return public, secret


@pytest.mark.skipif(not zmq.has("curve"), reason="libzmq without CURVE")
def test_curve_with_keys_made_by_the_keys_command(tmp_path: Path) -> None:
    server_public, server_secret = _keys(tmp_path / "keys", "server")
    client_public, client_secret = _keys(tmp_path / "keys", "client")
    endpoint = _endpoint(tmp_path, "curve")
    server_options = ["-b", endpoint, "--curve-server", "--curve-secret-key", f"@{server_secret}"]
    receiver = _start("recv", *server_options, "-n", "1")
    client = ["--curve-server-key", f"@{server_public}", "--curve-secret-key", f"@{client_secret}"]
    assert _run("send", "-c", endpoint, *client, stdin=b"secret\n") == (0, b"", b"")
    assert _finish(receiver) == (0, b"secret\n", b"")

    # The client's own public key as the server key: the handshake fails,
    # nothing gets through, and both sides give up at their --timeout.
    receiver = _start("recv", *server_options, "-n", "1", "--timeout", "3")
    wrong = ["--curve-server-key", f"@{client_public}", "--timeout", "3"]
    sent = _run("send", "-c", endpoint, *wrong, stdin=b"secret\n")
    assert sent == (1, b"", b"trio-zmq send: error: timed out\n")
    assert _finish(receiver) == (1, b"", b"trio-zmq recv: error: timed out\n")


def test_keys_refuses_to_overwrite(tmp_path: Path) -> None:
    _keys(tmp_path, "me")
    status, out, err = _run("keys", str(tmp_path), "me")
    assert (status, out) == (1, b"")
    assert err.decode().splitlines() == [
        f"trio-zmq keys: error: {tmp_path}/me.key exists (--force replaces it)"
    ]


def test_recv_into_head_ends_cleanly(tmp_path: Path) -> None:
    endpoint = _endpoint(tmp_path, "head")
    yes = subprocess.Popen(["yes", "line"], stdout=subprocess.PIPE)
    sender = subprocess.Popen(
        [*_trio_zmq(), "send", "-c", endpoint],
        stdin=yes.stdout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert yes.stdout is not None
    yes.stdout.close()
    recv = shlex.join([*_trio_zmq(), "recv", "-b", endpoint, "--timeout", str(_BOUND)])
    script = f"{recv} 2>{tmp_path}/err | head -n 2; echo ${{PIPESTATUS[0]}} >{tmp_path}/status"
    try:
        done = subprocess.run(
            script, shell=True, executable="/bin/bash", capture_output=True, timeout=_BOUND
        )
    finally:
        for process in (sender, yes):
            process.kill()
            process.wait(timeout=_BOUND)
    assert done.stdout == b"line\nline\n"
    assert (tmp_path / "status").read_text() == "0\n"
    assert (tmp_path / "err").read_text() == ""


def test_a_runtime_error_is_one_line_and_status_1() -> None:
    status, out, err = _run("recv", "-c", "nonsense://x")
    assert (status, out) == (1, b"")
    assert err.decode().splitlines() == [
        "trio-zmq recv: error: Protocol not supported (addr='nonsense://x')"
    ]


def test_a_proxy_between_send_and_recv_and_ctrl_c(tmp_path: Path) -> None:
    front, back = _endpoint(tmp_path, "front"), _endpoint(tmp_path, "back")
    command = [sys.executable, "-c", _WITH_CTRL_C, *_trio_zmq(), "proxy"]
    types = ["--frontend-type", "PULL", "--backend-type", "PUSH"]
    proxy = subprocess.Popen(
        [*command, *types, f"bind:{front}", back], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        receiver = _start("recv", "-c", back, "-n", "2")
        assert _run("send", "-c", f"{front}", stdin=b"via\nproxy\n") == (0, b"", b"")
        assert _finish(receiver) == (0, b"via\nproxy\n", b"")
        assert proxy.poll() is None
        proxy.send_signal(signal.SIGINT)
    finally:
        status, out, err = _finish(proxy)
    assert (status, out) == (INTERRUPTED, b"")
    assert err.decode().splitlines() == ["trio-zmq proxy: interrupted"]


def test_monitor_prints_a_connection_event(tmp_path: Path) -> None:
    endpoint = _endpoint(tmp_path, "monitored")
    # Four events: the monitor (and its PULL) stays until the sender, which
    # delivers its message first, has gone again.
    monitor = _start("monitor", f"bind:{endpoint}", "-t", "PULL", "-n", "4")
    try:
        # Listening once bound (VALUE is the listening file descriptor).
        assert _first_line(monitor, _BOUND).decode().split()[::2] == ["LISTENING", endpoint]
        assert _run("send", "-c", endpoint, stdin=b"hello\n") == (0, b"", b"")
    finally:
        status, out, err = _finish(monitor)
    assert (status, err) == (0, b"")
    events = [line.split() for line in out.decode().splitlines()]
    assert [(event, where) for event, _value, where in events] == [
        ("ACCEPTED", endpoint),
        ("HANDSHAKE_SUCCEEDED", endpoint),
        ("DISCONNECTED", endpoint),
    ]


def test_ctrl_c_while_send_waits_for_stdin(tmp_path: Path) -> None:
    """The read of stdin blocks a worker thread: Ctrl-C abandons it."""
    command = [sys.executable, "-c", _WITH_CTRL_C, *_trio_zmq(), "send"]
    sender = subprocess.Popen(
        [*command, "-c", _endpoint(tmp_path, "nobody")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert sender.stdin is not None
        sender.stdin.write(b"first\n")  # sent, then the next read waits
        sender.stdin.flush()
        time.sleep(0.5)  # into the read (were it earlier, the status would be the same)
        sender.send_signal(signal.SIGINT)
        _out, err = sender.communicate(timeout=_BOUND)
    finally:
        if sender.returncode is None:
            sender.kill()
            sender.communicate()
    assert sender.returncode == INTERRUPTED
    assert err.decode().splitlines()[-1] == "trio-zmq send: interrupted"


def test_pub_waits_for_its_subscribers_and_each_filters(tmp_path: Path) -> None:
    """``--peers 2``: the PUB holds the first line until both SUBs have
    subscribed, so neither misses the start; each keeps its own prefixes."""
    endpoint = _endpoint(tmp_path, "pubsub")
    news = _start("recv", "-c", endpoint, "-t", "SUB", "--subscribe", "news", "-n", "2")
    everything = _start("recv", "-c", endpoint, "-t", "SUB", "-n", "3")
    lines = b"news 1\nsport 1\nnews 2\n"
    sent = _run("send", "-b", endpoint, "-t", "PUB", "--peers", "2", stdin=lines)
    assert sent == (0, b"", b"")
    assert _finish(news) == (0, b"news 1\nnews 2\n", b"")
    assert _finish(everything) == (0, lines, b"")


def test_router_sends_to_the_routing_id_in_the_first_frame(tmp_path: Path) -> None:
    endpoint = _endpoint(tmp_path, "router")
    alice = _start("recv", "-b", endpoint, "-t", "DEALER", "--identity", "alice", "-n", "2")
    router = ["send", "-c", endpoint, "-t", "ROUTER", "-d", ",", "--peers", "1"]
    assert _run(*router, stdin=b"alice,hello\nalice,two,frames\n") == (0, b"", b"")
    assert _finish(alice) == (0, b"hello\ntwo\tframes\n", b"")


def test_router_refuses_a_message_to_an_unknown_peer(tmp_path: Path) -> None:
    """libzmq drops it silently by default; the tool says so and fails."""
    endpoint = _endpoint(tmp_path, "nobody")
    status, out, err = _run("send", "-b", endpoint, "-t", "ROUTER", "-d", ",", stdin=b"bob,hi\n")
    assert (status, out) == (1, b"")
    assert err.decode().splitlines() == ["trio-zmq send: error: Host unreachable"]


def test_a_router_send_needs_a_delimiter(tmp_path: Path) -> None:
    status, out, err = _run("send", "-b", _endpoint(tmp_path, "x"), "-t", "ROUTER")
    assert (status, out) == (2, b"")
    assert err.decode().splitlines()[-1].startswith("trio-zmq send: error: a ROUTER sends to")


def test_linger_decides_what_happens_to_undelivered_messages() -> None:
    """Nobody listens: with ``--linger 0`` (or 200) the message is dropped
    and send ends at once; with the default (-1) it waits for a peer, here
    until its ``--timeout``."""
    nobody = f"tcp://127.0.0.1:{_free_port()}"
    for linger in ("0", "200"):
        assert _run("send", "-c", nobody, "--linger", linger, stdin=b"lost\n") == (0, b"", b"")
    status, out, err = _run("send", "-c", nobody, "--timeout", "2", stdin=b"kept\n")
    assert (status, out, err) == (1, b"", b"trio-zmq send: error: timed out\n")


def test_monitor_prints_only_the_chosen_events(tmp_path: Path) -> None:
    endpoint = _endpoint(tmp_path, "chosen")
    chosen = "accepted,DISCONNECTED"
    monitor = _start("monitor", f"bind:{endpoint}", "-t", "PULL", "--events", chosen, "-n", "2")
    try:
        # No LISTENING line: the sender connects, sends and leaves.
        assert _run("send", "-c", endpoint, stdin=b"hello\n") == (0, b"", b"")
    finally:
        status, out, err = _finish(monitor)
    assert (status, err) == (0, b"")
    assert [line.split()[0] for line in out.decode().splitlines()] == ["ACCEPTED", "DISCONNECTED"]


def test_monitor_rejects_an_unknown_event_in_one_line() -> None:
    status, out, err = _run("monitor", "-c", "tcp://127.0.0.1:1", "--events", "CONNECTED,BOGUS")
    assert (status, out) == (2, b"")
    (line,) = err.decode().splitlines()[-1:]
    assert line.startswith("trio-zmq monitor: error: argument --events: unknown event 'BOGUS'")


@pytest.mark.skipif(not zmq.has("curve"), reason="libzmq without CURVE")
def test_proxy_with_a_curve_frontend_and_a_capture_socket(tmp_path: Path) -> None:
    """Clients reach the frontend only through CURVE; the capture socket
    (a PUSH here, so no copy is lost to a late subscriber) gets each message."""
    server_public, server_secret = _keys(tmp_path / "keys", "proxy")
    front, back = _endpoint(tmp_path, "front"), _endpoint(tmp_path, "back")
    capture = _endpoint(tmp_path, "capture")
    command = [sys.executable, "-c", _WITH_CTRL_C, *_trio_zmq(), "proxy", front, back]
    options = ["--frontend-type", "PULL", "--backend-type", "PUSH", "--capture", capture]
    options += [
        "--capture-type",
        "PUSH",
        "--curve-server",
        "--curve-secret-key",
        f"@{server_secret}",
    ]
    proxy = subprocess.Popen([*command, *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        receiver = _start("recv", "-c", back, "-n", "2")
        copies = _start("recv", "-c", capture, "-n", "2")
        client = ["send", "-c", front, "--curve-server-key", f"@{server_public}"]
        assert _run(*client, stdin=b"secured\nand copied\n") == (0, b"", b"")
        assert _finish(receiver) == (0, b"secured\nand copied\n", b"")
        assert _finish(copies) == (0, b"secured\nand copied\n", b"")
        # Without CURVE the frontend's handshake fails and libzmq drops the
        # message with the connection: nothing reaches the backend.
        _run("send", "-c", front, "--timeout", "3", stdin=b"plain\n")
        nothing = _run("recv", "-c", back, "-n", "1", "--timeout", "2")
        assert nothing == (1, b"", b"trio-zmq recv: error: timed out\n")
    finally:
        proxy.send_signal(signal.SIGINT)
        status, out, err = _finish(proxy)
    assert (status, out) == (INTERRUPTED, b"")
    assert err.decode().splitlines() == ["trio-zmq proxy: interrupted"]
