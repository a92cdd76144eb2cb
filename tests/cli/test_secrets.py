"""Secrets stay secret in the tools.

``trio-zmq keys`` writes the secret file for its owner only (mode 0600,
under any umask, ``--force`` included) in the format pyzmq reads; the
socket tools take a secret key from a certificate file (``@FILE``) or from
``$TRIO_ZMQ_CURVE_SECRET_KEY``, refuse it on the command line in one line
that does not repeat it, and warn in one line about a secret file other
users may open -- such as the ones :func:`zmq.auth.create_certificates`
writes, which they still use.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import zmq
import zmq.auth

from trio_zmq._cli._curve import SECRET_KEY_VARIABLE
from trio_zmq._cli._main import main

from .support import finish, run, start

needs_curve = pytest.mark.skipif(not zmq.has("curve"), reason="libzmq without CURVE")

#: A key pair for arguments: neither key starts with "-" (an option to
#: argparse) or "@" (a file to the tools), as a fresh pair's might.
PUBLIC = "TLI&JG0n6Ehi?S4P!#y[2-l1bpfd2xUt*c)dY#VY"
SECRET = "xop6<XMQl$<&2qlG$.%9a+e$-V7BcCZ%>I&wG2@?"


def _mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _ipc(tmp_path: Path, name: str) -> str:
    return f"ipc://{tmp_path}/{name}"


def test_the_fixed_pair_is_a_pair() -> None:
    assert zmq.curve_public(SECRET.encode()) == PUBLIC.encode()


@pytest.mark.parametrize("umask", [0o022, 0o000, 0o077], ids=["022", "000", "077"])
def test_keys_writes_the_secret_file_for_its_owner_only(tmp_path: Path, umask: int) -> None:
    status, out, err = run("keys", str(tmp_path), "server", umask=umask)
    assert (status, err) == (0, b"")
    public_path, secret_path = out.decode().splitlines()
    assert _mode(secret_path) == 0o600
    assert _mode(public_path) == 0o644 & ~umask
    # pyzmq reads both, and a certificate directory of them.
    public, secret = zmq.auth.load_certificate(secret_path)
    assert secret is not None
    assert zmq.curve_public(secret) == public
    assert zmq.auth.load_certificate(public_path) == (public, None)
    assert zmq.auth.load_certificates(tmp_path) == {public: True}


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["022", "000"])
def test_force_replaces_a_pair_without_opening_the_secret(tmp_path: Path, umask: int) -> None:
    """The old secret file is readable by all: ``--force`` does not write
    the new secret into it, but into a new file of mode 0600 put in its place."""
    old_public_path, old_secret_path = zmq.auth.create_certificates(tmp_path, "server")
    os.chmod(old_secret_path, 0o644)
    old_file = os.stat(old_secret_path).st_ino
    old_secret = zmq.auth.load_certificate(old_secret_path)[1]
    status, out, err = run("keys", str(tmp_path), "server", "--force", umask=umask)
    assert (status, err) == (0, b"")
    assert out.decode().splitlines() == [old_public_path, old_secret_path]
    assert _mode(old_secret_path) == 0o600
    assert os.stat(old_secret_path).st_ino != old_file
    public, secret = zmq.auth.load_certificate(old_secret_path)
    assert secret not in (None, old_secret)
    assert zmq.auth.load_certificate(old_public_path) == (public, None)
    assert sorted(os.listdir(tmp_path)) == ["server.key", "server.key_secret"]


def test_keys_never_writes_through_a_link(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (tmp_path / "me.key_secret").symlink_to(elsewhere)
    status, out, err = run("keys", str(tmp_path), "me")
    assert (status, out) == (1, b"")
    assert err.decode().splitlines() == [
        f"trio-zmq keys: error: {tmp_path}/me.key_secret exists (--force replaces it)"
    ]
    assert not elsewhere.exists()
    assert not (tmp_path / "me.key").exists()


@pytest.mark.parametrize(
    "tool", [["send", "connect:ipc://x"], ["recv", "bind:ipc://x"], ["monitor", "connect:ipc://x"]]
)
@pytest.mark.parametrize("form", ["separate", "joined"])
def test_a_secret_key_on_the_command_line_is_refused(
    tool: list[str], form: str, capsys: pytest.CaptureFixture[str]
) -> None:
    option = (
        ["--curve-secret-key", SECRET] if form == "separate" else [f"--curve-secret-key={SECRET}"]
    )
    with pytest.raises(SystemExit) as exit_info:
        main([*tool, "--curve-server", *option])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"trio-zmq {tool[0]}: error: argument --curve-secret-key: a secret key on the command "
        "line can be read by every local user: give its certificate file as @FILE, or the key "
        f"in ${SECRET_KEY_VARIABLE} (see trio-zmq {tool[0]} --help)"
    ]


def test_the_proxy_refuses_a_secret_key_on_the_command_line_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "proxy",
                "bind:ipc://a",
                "bind:ipc://b",
                "--curve-server",
                "--curve-secret-key",
                SECRET,
            ]
        )
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("trio-zmq proxy: error: argument --curve-secret-key: a secret key")
    assert SECRET not in line


@needs_curve
def test_the_secret_key_from_the_environment(tmp_path: Path) -> None:
    endpoint = _ipc(tmp_path, "env")
    server = {SECRET_KEY_VARIABLE: SECRET}
    receiver = start("recv", f"bind:{endpoint}", "--curve-server", "-n", "1", env=server)
    # The client: its own pair from the environment too (any pair will do).
    _, client_secret = zmq.curve_keypair()
    client = {SECRET_KEY_VARIABLE: client_secret.decode()}
    sent = run(
        "send", f"connect:{endpoint}", f"--curve-server-key={PUBLIC}", stdin=b"hi\n", env=client
    )
    assert sent == (0, b"", b"")
    assert finish(receiver) == (0, b"hi\n", b"")


def test_the_environment_key_is_for_curve_sides_only(tmp_path: Path) -> None:
    """Without --curve-server or --curve-server-key the variable is not read."""
    endpoint = _ipc(tmp_path, "plain")
    env = {SECRET_KEY_VARIABLE: SECRET}
    receiver = start("recv", f"bind:{endpoint}", "-n", "1", env=env)
    assert run("send", f"connect:{endpoint}", stdin=b"plain\n", env=env) == (0, b"", b"")
    assert finish(receiver) == (0, b"plain\n", b"")


def test_a_malformed_environment_key_is_not_repeated(tmp_path: Path) -> None:
    env = {SECRET_KEY_VARIABLE: "a-short-secret"}
    endpoint = f"bind:{_ipc(tmp_path, 'bad')}"
    assert run("recv", endpoint, "--curve-server", env=env) == (
        1,
        b"",
        f"trio-zmq recv: error: ${SECRET_KEY_VARIABLE}: a CURVE key is 40 Z85 characters, "
        "not 14\n".encode(),
    )


@needs_curve
def test_pyzmq_certificates_work_and_their_open_secret_file_is_warned_of(tmp_path: Path) -> None:
    """pyzmq writes the secret file as any other file: 0644 under umask 022.
    The tools use it, and say in one line how to close it."""
    umask = os.umask(0o022)
    try:
        public_path, secret_path = zmq.auth.create_certificates(tmp_path, "server")
    finally:
        os.umask(umask)
    assert _mode(secret_path) == 0o644
    endpoint = _ipc(tmp_path, "pyzmq")
    server = ["--curve-server", "--curve-secret-key", f"@{secret_path}"]
    receiver = start("recv", f"bind:{endpoint}", *server, "-n", "1")
    client = ["--curve-server-key", f"@{public_path}"]
    assert run("send", f"connect:{endpoint}", *client, stdin=b"hi\n") == (0, b"", b"")
    status, out, err = finish(receiver)
    assert (status, out) == (0, b"hi\n")
    assert err.decode().splitlines() == [
        f"trio-zmq recv: warning: the secret key file {secret_path} is open to other users "
        f"(mode 0644): chmod 600 {secret_path}"
    ]


@needs_curve
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620])
def test_a_secret_file_open_to_the_group_or_others_is_warned_of(tmp_path: Path, mode: int) -> None:
    run("keys", str(tmp_path), "server")
    secret_path = tmp_path / "server.key_secret"
    os.chmod(secret_path, mode)
    endpoint = f"connect:{_ipc(tmp_path, 'warned')}"
    options = ["--curve-server-key", f"@{tmp_path}/server.key", "--curve-secret-key"]
    status, out, err = run("send", endpoint, *options, f"@{secret_path}", "--timeout", "0.5")
    assert (status, out) == (0, b"")  # nothing to send: stdin is empty
    assert err.decode().splitlines() == [
        f"trio-zmq send: warning: the secret key file {secret_path} is open to other users "
        f"(mode {mode:04o}): chmod 600 {secret_path}"
    ]
