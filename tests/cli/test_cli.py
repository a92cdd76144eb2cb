"""The command line's rules: an error or an interruption is one line.

``trio-zmq demo`` interrupted with Ctrl-C (SIGINT) ends with one line on
stderr and exit status 130 -- not a traceback, nor an exception group from
the nursery it was interrupted in; a bad argument is one line and status 2
(for every subcommand: the tools' other rules are in ``test_tools.py``).
"""

from __future__ import annotations

import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from trio_zmq._cli._command import INTERRUPTED, run_command
from trio_zmq._cli._main import main

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

#: Runs its arguments as a command with Ctrl-C at its default: a shell that
#: started these tests in the background may have set SIGINT to be ignored,
#: which a child inherits (and then Ctrl-C would do nothing at all).
_WITH_CTRL_C = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)
#: Seconds for the demo to start, and for it to end once interrupted.
_BOUND = 30.0


def _trio_zmq() -> list[str]:
    """The installed ``trio-zmq`` script, or the same main through ``-m``."""
    script = Path(sys.executable).with_name("trio-zmq")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "trio_zmq"]


def _first_line(process: subprocess.Popen[bytes], timeout: float) -> bytes:
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], timeout)
    assert readable, f"no output within {timeout:g} s"
    return process.stdout.readline()


def test_ctrl_c_ends_the_demo_with_one_line_and_status_130() -> None:
    command = [sys.executable, "-c", _WITH_CTRL_C, *_trio_zmq(), "demo", "--tasks", "10000000"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # The header is printed inside trio.run, as the pipeline starts.
        assert _first_line(process, _BOUND).startswith(b"trio_zmq demo:")
        time.sleep(0.5)  # into the pipeline's nursery
        assert process.poll() is None, "the demo ended before it was interrupted"
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=_BOUND)
    finally:
        if process.returncode is None:
            process.kill()
            process.communicate()
    assert process.returncode == INTERRUPTED, err.decode()
    assert err.decode().splitlines() == ["trio-zmq demo: interrupted"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--tasks", "0"], "trio-zmq demo: error: argument --tasks: must be positive"),
        (["demo", "--transport", "udp"], "trio-zmq demo: error: argument --transport: invalid"),
        (["bench"], "trio-zmq: error: argument command: invalid choice: 'bench'"),
        ([], "trio-zmq: error: the following arguments are required: command"),
        (["send"], "trio-zmq send: error: give at least one -b/--bind or -c/--connect"),
        (["recv", "-c", "ipc://x", "-t", "PUSH"], "trio-zmq recv: error: recv takes a socket"),
        (["send", "-c", "ipc://x", "-t", "nope"], "trio-zmq send: error: argument -t/--type"),
        (["send", "-c", "ipc://x", "-n", "0"], "trio-zmq send: error: argument -n/--count"),
        (["recv", "-c", "ipc://x", "--raw", "-d", ","], "trio-zmq recv: error: --raw and -d"),
        (["recv", "-c", "ipc://x", "--curve-server"], "trio-zmq recv: error: --curve-server needs"),
        (
            ["send", "-c", "ipc://x", "--curve-server-key", "k", "--curve-public-key", "k"],
            "trio-zmq send: error: --curve-public-key needs --curve-secret-key",
        ),
        (["recv", "-c", "ipc://x", "--subscribe", "a"], "trio-zmq recv: error: --subscribe is"),
        (["proxy", "ipc://x"], "trio-zmq proxy: error: the following arguments are required"),
        (["keys", "dir"], "trio-zmq keys: error: the following arguments are required"),
    ],
)
def test_a_bad_argument_is_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(message), err


def _interrupted() -> int:
    raise KeyboardInterrupt


def _interrupted_in_a_nursery() -> int:
    raise BaseExceptionGroup("from a nursery", [KeyboardInterrupt(), ValueError("also")])


@pytest.mark.parametrize("command", [_interrupted, _interrupted_in_a_nursery])
def test_an_interrupted_command_says_so_in_one_line(
    command: Callable[[], int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command("prog cmd", command) == INTERRUPTED
    assert capsys.readouterr().err == "prog cmd: interrupted\n"


def _buggy() -> int:
    raise ValueError("a bug")


def test_other_errors_and_exit_statuses_pass_through() -> None:
    assert run_command("prog", lambda: 3) == 3
    with pytest.raises(ValueError, match="a bug"):
        run_command("prog", _buggy)


def test_the_demo_still_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--tasks", "200", "--quiet"]) == 0
    assert ": ok" in capsys.readouterr().out
