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
    monitor = _start("monitor", f"bind:{endpoint}", "-t", "PULL", "-n", "2")
    try:
        # Listening once bound (VALUE is the listening file descriptor).
        assert _first_line(monitor, _BOUND).decode().split()[::2] == ["LISTENING", endpoint]
        assert _run("send", "-c", endpoint, stdin=b"hello\n") == (0, b"", b"")
    finally:
        status, out, err = _finish(monitor)
    assert (status, err) == (0, b"")
    event, _descriptor, where = out.decode().split()
    assert (event, where) == ("ACCEPTED", endpoint)


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
