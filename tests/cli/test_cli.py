"""The command line's rules: an error or an interruption is one line.

``trio-zmq demo`` interrupted with Ctrl-C (SIGINT) ends with one line on
stderr and exit status 130 -- not a traceback, nor an exception group from
the nursery it was interrupted in; a bad argument is one line and status 2
for every subcommand, an ENDPOINT without its ``bind:`` or ``connect:``
among them.  Every subcommand has its own ``--help``, and the socket tools'
say what an ENDPOINT is.  (The tools' other rules are in ``test_tools.py``.)
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable

import pytest

from trio_zmq._cli._command import INTERRUPTED, run_command
from trio_zmq._cli._main import COMMANDS, main

from .support import finish, first_line, start

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup


def test_ctrl_c_ends_the_demo_with_one_line_and_status_130() -> None:
    process = start("demo", "--tasks", "10000000", ctrl_c=True)
    try:
        # The header is printed inside trio.run, as the pipeline starts.
        assert first_line(process).startswith(b"trio_zmq demo:")
        time.sleep(0.5)  # into the pipeline's nursery
        assert process.poll() is None, "the demo ended before it was interrupted"
        process.send_signal(signal.SIGINT)
    finally:
        status, _out, err = finish(process)
    assert status == INTERRUPTED, err.decode()
    assert err.decode().splitlines() == ["trio-zmq demo: interrupted"]


#: An ENDPOINT in the one grammar of every tool.
_TO = "connect:ipc://x"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--tasks", "0"], "trio-zmq demo: error: argument --tasks: must be positive"),
        (["demo", "--transport", "udp"], "trio-zmq demo: error: argument --transport: invalid"),
        (["bench"], "trio-zmq: error: argument command: invalid choice: 'bench'"),
        ([], "trio-zmq: error: the following arguments are required: command"),
        (["send"], "trio-zmq send: error: the following arguments are required: ENDPOINT"),
        (
            ["recv", "tcp://127.0.0.1:5555"],
            "trio-zmq recv: error: argument ENDPOINT: 'tcp://127.0.0.1:5555' does not say "
            "bind: or connect: (write bind:tcp://127.0.0.1:5555 or connect:tcp://127.0.0.1:5555)",
        ),
        (
            ["send", "-c", "ipc://x"],
            "trio-zmq send: error: argument ENDPOINT: 'ipc://x' does not say bind: or connect:",
        ),
        (["monitor", "bind:"], "trio-zmq monitor: error: argument ENDPOINT: 'bind:' has no"),
        (["recv", "bind:ipc://a", "-n", "1", _TO], "trio-zmq: error: unrecognized arguments"),
        (["proxy", "ipc://x", _TO], "trio-zmq proxy: error: argument FRONTEND: 'ipc://x' does"),
        (["proxy", _TO, _TO, "--capture", "x"], "trio-zmq proxy: error: argument --capture: 'x'"),
        (
            ["recv", _TO, "-t", "PUSH"],
            "trio-zmq recv: error: argument -t/--type: 'PUSH' is not one of PULL, SUB, REP,",
        ),
        (["send", _TO, "-t", "nope"], "trio-zmq send: error: argument -t/--type: 'nope' is not"),
        (["send", _TO, "-n", "0"], "trio-zmq send: error: argument -n/--count"),
        (["recv", _TO, "--raw", "-d", ","], "trio-zmq recv: error: argument -d/--delimiter: not"),
        (["recv", _TO, "--curve-server"], "trio-zmq recv: error: --curve-server needs"),
        (
            ["send", _TO, "--curve-server-key", "k", "--curve-public-key", "k"],
            "trio-zmq send: error: --curve-public-key needs --curve-secret-key",
        ),
        (["recv", _TO, "--subscribe", "a"], "trio-zmq recv: error: --subscribe is"),
        (["recv", _TO, "--reply", "a"], "trio-zmq recv: error: --reply is"),
        (["proxy", _TO], "trio-zmq proxy: error: the following arguments are required: BACKEND"),
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


@pytest.mark.parametrize("name", ["send", "recv", "proxy", "monitor"])
def test_the_help_of_every_socket_tool_says_what_an_endpoint_is(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    assert "bind:ADDRESS or connect:ADDRESS" in " ".join(capsys.readouterr().out.split())


def test_every_command_is_a_subcommand_with_its_own_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command in COMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            main([command.name, "--help"])
        assert exit_info.value.code == 0
        help_text = capsys.readouterr().out
        assert help_text.startswith(f"usage: trio-zmq {command.name} ")
        assert " ".join(command.description.split()) in " ".join(help_text.split())


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
