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
import time
from pathlib import Path

import pytest
import zmq
import zmq.auth

from trio_zmq._cli._command import INTERRUPTED

from .support import BOUND, ENV, TRIO_ZMQ, finish, first_line, run, start


def _ipc(tmp_path: Path, name: str) -> str:
    """An ``ipc://`` address in ``tmp_path`` (an ENDPOINT adds ``bind:`` or ``connect:``)."""
    return f"ipc://{tmp_path}/{name}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_lines_go_from_send_to_recv_over_tcp() -> None:
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    receiver = start("recv", f"bind:{endpoint}", "-n", "3", "--timeout", str(BOUND))
    sent = run("send", f"connect:{endpoint}", "--timeout", str(BOUND), stdin=b"one\ntwo\n\nfour\n")
    assert sent == (0, b"", b"")
    assert finish(receiver) == (0, b"one\ntwo\n\n", b"")


def test_a_delimiter_makes_multipart_messages(tmp_path: Path) -> None:
    endpoint = _ipc(tmp_path, "multipart")
    receiver = start("recv", f"bind:{endpoint}", "-t", "DEALER", "-n", "2", "-d", ",")
    sent = run("send", f"connect:{endpoint}", "-t", "DEALER", "-d", "\\t", stdin=b"a\tb\tc\nd\n")
    assert sent == (0, b"", b"")
    assert finish(receiver) == (0, b"a,b,c\nd\n", b"")


def test_raw_binary_round_trip(tmp_path: Path) -> None:
    endpoint = _ipc(tmp_path, "raw")
    data = bytes(range(256)) * 64 + b"\n\r\n\x00"
    receiver = start("recv", f"bind:{endpoint}", "--raw", "-n", "1")
    assert run("send", f"connect:{endpoint}", "--raw", stdin=data) == (0, b"", b"")
    assert finish(receiver) == (0, data, b"")


def test_count_stops_the_sender_and_the_receiver(tmp_path: Path) -> None:
    endpoint = _ipc(tmp_path, "count")
    receiver = start("recv", f"bind:{endpoint}", "-n", "2", "--progress")
    lines = b"".join(b"%d\n" % n for n in range(10))
    assert run("send", f"connect:{endpoint}", "-n", "2", stdin=lines) == (0, b"", b"")
    status, out, err = finish(receiver)
    assert (status, out) == (0, b"0\n1\n")
    assert err.decode().splitlines()[-1] == "trio-zmq recv: 2 messages"


def test_req_rep_prints_the_replies(tmp_path: Path) -> None:
    endpoint = _ipc(tmp_path, "reqrep")
    server = start("recv", f"bind:{endpoint}", "-t", "REP", "-n", "2", "--reply", "ok")
    sent = run("send", f"connect:{endpoint}", "-t", "REQ", stdin=b"ping\npong\n")
    assert sent == (0, b"ok\nok\n", b"")
    assert finish(server) == (0, b"ping\npong\n", b"")


def _keys(directory: Path, name: str) -> tuple[str, str]:
    status, out, err = run("keys", str(directory), name)
    assert (status, err) == (0, b"")
    public, secret = out.decode().splitlines()
    assert zmq.auth.load_certificate(secret)[1] is not None
    return public, secret


@pytest.mark.skipif(not zmq.has("curve"), reason="libzmq without CURVE")
def test_curve_with_keys_made_by_the_keys_command(tmp_path: Path) -> None:
    server_public, server_secret = _keys(tmp_path / "keys", "server")
    client_public, client_secret = _keys(tmp_path / "keys", "client")
    endpoint = _ipc(tmp_path, "curve")
    server_options = [f"bind:{endpoint}", "--curve-server"]
    server_options += ["--curve-secret-key", f"@{server_secret}"]
    receiver = start("recv", *server_options, "-n", "1")
    client = ["--curve-server-key", f"@{server_public}", "--curve-secret-key", f"@{client_secret}"]
    assert run("send", f"connect:{endpoint}", *client, stdin=b"secret\n") == (0, b"", b"")
    assert finish(receiver) == (0, b"secret\n", b"")

    # The client's own public key as the server key: the handshake fails,
    # nothing gets through, and both sides give up at their --timeout.
    receiver = start("recv", *server_options, "-n", "1", "--timeout", "3")
    wrong = ["--curve-server-key", f"@{client_public}", "--timeout", "3"]
    sent = run("send", f"connect:{endpoint}", *wrong, stdin=b"secret\n")
    assert sent == (1, b"", b"trio-zmq send: error: timed out\n")
    assert finish(receiver) == (1, b"", b"trio-zmq recv: error: timed out\n")


def test_keys_refuses_to_overwrite(tmp_path: Path) -> None:
    _keys(tmp_path, "me")
    status, out, err = run("keys", str(tmp_path), "me")
    assert (status, out) == (1, b"")
    assert err.decode().splitlines() == [
        f"trio-zmq keys: error: {tmp_path}/me.key exists (--force replaces it)"
    ]


def test_recv_into_head_ends_cleanly(tmp_path: Path) -> None:
    endpoint = _ipc(tmp_path, "head")
    yes = subprocess.Popen(["yes", "line"], stdout=subprocess.PIPE)
    sender = subprocess.Popen(
        [*TRIO_ZMQ, "send", f"connect:{endpoint}"],
        stdin=yes.stdout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ENV,
    )
    assert yes.stdout is not None
    yes.stdout.close()
    recv = shlex.join([*TRIO_ZMQ, "recv", f"bind:{endpoint}", "--timeout", str(BOUND)])
    script = f"{recv} 2>{tmp_path}/err | head -n 2; echo ${{PIPESTATUS[0]}} >{tmp_path}/status"
    try:
        done = subprocess.run(
            script, shell=True, executable="/bin/bash", capture_output=True, timeout=BOUND, env=ENV
        )
    finally:
        for process in (sender, yes):
            process.kill()
            process.wait(timeout=BOUND)
    assert done.stdout == b"line\nline\n"
    assert (tmp_path / "status").read_text() == "0\n"
    assert (tmp_path / "err").read_text() == ""


def test_a_runtime_error_is_one_line_and_status_1() -> None:
    status, out, err = run("recv", "connect:nonsense://x")
    assert (status, out) == (1, b"")
    assert err.decode().splitlines() == [
        "trio-zmq recv: error: Protocol not supported (addr='nonsense://x')"
    ]


def test_a_proxy_between_send_and_recv_and_ctrl_c(tmp_path: Path) -> None:
    front, back = _ipc(tmp_path, "front"), _ipc(tmp_path, "back")
    types = ["--frontend-type", "PULL", "--backend-type", "PUSH"]
    proxy = start("proxy", *types, f"bind:{front}", f"bind:{back}", ctrl_c=True)
    try:
        receiver = start("recv", f"connect:{back}", "-n", "2")
        assert run("send", f"connect:{front}", stdin=b"via\nproxy\n") == (0, b"", b"")
        assert finish(receiver) == (0, b"via\nproxy\n", b"")
        assert proxy.poll() is None
        proxy.send_signal(signal.SIGINT)
    finally:
        status, out, err = finish(proxy)
    assert (status, out) == (INTERRUPTED, b"")
    assert err.decode().splitlines() == ["trio-zmq proxy: interrupted"]


def test_monitor_prints_a_connection_event(tmp_path: Path) -> None:
    endpoint = _ipc(tmp_path, "monitored")
    # Four events: the monitor (and its PULL) stays until the sender, which
    # delivers its message first, has gone again.
    monitor = start("monitor", f"bind:{endpoint}", "-t", "PULL", "-n", "4")
    try:
        # Listening once bound (VALUE is the listening file descriptor).
        assert first_line(monitor, BOUND).decode().split()[::2] == ["LISTENING", endpoint]
        assert run("send", f"connect:{endpoint}", stdin=b"hello\n") == (0, b"", b"")
    finally:
        status, out, err = finish(monitor)
    assert (status, err) == (0, b"")
    events = [line.split() for line in out.decode().splitlines()]
    assert [(event, where) for event, _value, where in events] == [
        ("ACCEPTED", endpoint),
        ("HANDSHAKE_SUCCEEDED", endpoint),
        ("DISCONNECTED", endpoint),
    ]


def test_ctrl_c_while_send_waits_for_stdin(tmp_path: Path) -> None:
    """The read of stdin blocks a worker thread: Ctrl-C abandons it."""
    nobody = f"connect:{_ipc(tmp_path, 'nobody')}"
    sender = start("send", nobody, ctrl_c=True, stdin=subprocess.PIPE)
    try:
        assert sender.stdin is not None
        sender.stdin.write(b"first\n")  # sent, then the next read waits
        sender.stdin.flush()
        time.sleep(0.5)  # into the read (were it earlier, the status would be the same)
        sender.send_signal(signal.SIGINT)
    finally:
        status, _out, err = finish(sender)
    assert status == INTERRUPTED
    assert err.decode().splitlines()[-1] == "trio-zmq send: interrupted"


def test_pub_waits_for_its_subscribers_and_each_filters(tmp_path: Path) -> None:
    """``--peers 2``: the PUB holds the first line until both SUBs have
    subscribed, so neither misses the start; each keeps its own prefixes."""
    endpoint = _ipc(tmp_path, "pubsub")
    news = start("recv", f"connect:{endpoint}", "-t", "SUB", "--subscribe", "news", "-n", "2")
    everything = start("recv", f"connect:{endpoint}", "-t", "SUB", "-n", "3")
    lines = b"news 1\nsport 1\nnews 2\n"
    sent = run("send", f"bind:{endpoint}", "-t", "PUB", "--peers", "2", stdin=lines)
    assert sent == (0, b"", b"")
    assert finish(news) == (0, b"news 1\nnews 2\n", b"")
    assert finish(everything) == (0, lines, b"")


def test_router_sends_to_the_routing_id_in_the_first_frame(tmp_path: Path) -> None:
    endpoint = _ipc(tmp_path, "router")
    alice = start("recv", f"bind:{endpoint}", "-t", "DEALER", "--identity", "alice", "-n", "2")
    router = ["send", f"connect:{endpoint}", "-t", "ROUTER", "-d", ",", "--peers", "1"]
    assert run(*router, stdin=b"alice,hello\nalice,two,frames\n") == (0, b"", b"")
    assert finish(alice) == (0, b"hello\ntwo\tframes\n", b"")


def test_router_refuses_a_message_to_an_unknown_peer(tmp_path: Path) -> None:
    """libzmq drops it silently by default; the tool says so and fails."""
    endpoint = _ipc(tmp_path, "nobody")
    status, out, err = run("send", f"bind:{endpoint}", "-t", "ROUTER", "-d", ",", stdin=b"bob,hi\n")
    assert (status, out) == (1, b"")
    assert err.decode().splitlines() == ["trio-zmq send: error: Host unreachable"]


def test_a_router_send_needs_a_delimiter(tmp_path: Path) -> None:
    status, out, err = run("send", f"bind:{_ipc(tmp_path, 'x')}", "-t", "ROUTER")
    assert (status, out) == (2, b"")
    assert err.decode().splitlines()[-1].startswith("trio-zmq send: error: a ROUTER sends to")


def test_linger_decides_what_happens_to_undelivered_messages() -> None:
    """Nobody listens: with ``--linger 0`` (or 200) the message is dropped
    and send ends at once; with the default (-1) it waits for a peer, here
    until its ``--timeout``."""
    nobody = f"connect:tcp://127.0.0.1:{_free_port()}"
    for linger in ("0", "200"):
        assert run("send", nobody, "--linger", linger, stdin=b"lost\n") == (0, b"", b"")
    status, out, err = run("send", nobody, "--timeout", "2", stdin=b"kept\n")
    assert (status, out, err) == (1, b"", b"trio-zmq send: error: timed out\n")


def test_monitor_prints_only_the_chosen_events(tmp_path: Path) -> None:
    endpoint = _ipc(tmp_path, "chosen")
    chosen = "accepted,DISCONNECTED"
    monitor = start("monitor", f"bind:{endpoint}", "-t", "PULL", "--events", chosen, "-n", "2")
    try:
        # No LISTENING line: the sender connects, sends and leaves.
        assert run("send", f"connect:{endpoint}", stdin=b"hello\n") == (0, b"", b"")
    finally:
        status, out, err = finish(monitor)
    assert (status, err) == (0, b"")
    assert [line.split()[0] for line in out.decode().splitlines()] == ["ACCEPTED", "DISCONNECTED"]


def test_monitor_rejects_an_unknown_event_in_one_line() -> None:
    status, out, err = run("monitor", "connect:tcp://127.0.0.1:1", "--events", "CONNECTED,BOGUS")
    assert (status, out) == (2, b"")
    (line,) = err.decode().splitlines()[-1:]
    assert line.startswith("trio-zmq monitor: error: argument --events: unknown event 'BOGUS'")


@pytest.mark.skipif(not zmq.has("curve"), reason="libzmq without CURVE")
def test_proxy_with_a_curve_frontend_and_a_capture_socket(tmp_path: Path) -> None:
    """Clients reach the frontend only through CURVE; the capture socket
    (a PUSH here, so no copy is lost to a late subscriber) gets each message."""
    server_public, server_secret = _keys(tmp_path / "keys", "proxy")
    front, back = _ipc(tmp_path, "front"), _ipc(tmp_path, "back")
    capture = _ipc(tmp_path, "capture")
    options = ["--frontend-type", "PULL", "--backend-type", "PUSH"]
    options += ["--capture", f"bind:{capture}", "--capture-type", "PUSH"]
    options += ["--curve-server", "--curve-secret-key", f"@{server_secret}"]
    proxy = start("proxy", f"bind:{front}", f"bind:{back}", *options, ctrl_c=True)
    try:
        receiver = start("recv", f"connect:{back}", "-n", "2")
        copies = start("recv", f"connect:{capture}", "-n", "2")
        client = ["send", f"connect:{front}", "--curve-server-key", f"@{server_public}"]
        assert run(*client, stdin=b"secured\nand copied\n") == (0, b"", b"")
        assert finish(receiver) == (0, b"secured\nand copied\n", b"")
        assert finish(copies) == (0, b"secured\nand copied\n", b"")
        # Without CURVE the frontend's handshake fails and libzmq drops the
        # message with the connection: nothing reaches the backend.
        run("send", f"connect:{front}", "--timeout", "3", stdin=b"plain\n")
        nothing = run("recv", f"connect:{back}", "-n", "1", "--timeout", "2")
        assert nothing == (1, b"", b"trio-zmq recv: error: timed out\n")
    finally:
        proxy.send_signal(signal.SIGINT)
        status, out, err = finish(proxy)
    assert (status, out) == (INTERRUPTED, b"")
    assert err.decode().splitlines() == ["trio-zmq proxy: interrupted"]
