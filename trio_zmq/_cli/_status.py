"""How a tool ends, and the exit status it ends with.

:func:`run_tool` is :func:`~trio_zmq._cli._command.run_command` (Ctrl-C: one
line, exit status 130) plus the statuses of a tool:

* 1 and one line on stderr for a runtime error: ZeroMQ's (a bad endpoint, an
  address in use), a file's, a :exc:`CommandError` (a bad key), or
  ``--timeout`` (:func:`bounded`) running out;
* 0 and nothing at all when the reader of stdout went away (``| head``).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Callable, Iterator

import trio
import zmq

from ._command import run_command

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup


class CommandError(Exception):
    """A runtime error a command reports in one line, with exit status 1."""


@contextlib.contextmanager
def bounded(timeout: float | None) -> Iterator[None]:
    """``--timeout``: :exc:`trio.TooSlowError` after ``timeout`` seconds (None: never)."""
    with trio.fail_after(math.inf if timeout is None else timeout):
        yield


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


#: What a command reports in one line with exit status 1.
_RUNTIME_ERRORS = (CommandError, zmq.ZMQError, OSError, trio.TooSlowError)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null: its reader is gone, and the interpreter's
    last flush must not complain about it."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def run_tool(prog: str, command: Callable[[], int]) -> int:
    """Run ``command`` and return its exit status, or the status of how it ended.

    Args:
      prog: how the tool is called, for its messages (``trio-zmq recv``).
      command: does the work; returns the exit status.
    """

    def guarded() -> int:
        try:
            return command()
        except Exception as exc:
            leaves = list(_leaves(exc))
            if any(isinstance(leaf, BrokenPipeError) for leaf in leaves):
                _quiet_stdout()
                return 0
            for leaf in leaves:
                if isinstance(leaf, trio.TooSlowError):
                    print(f"{prog}: error: timed out", file=sys.stderr, flush=True)
                    return 1
                if isinstance(leaf, _RUNTIME_ERRORS):
                    print(f"{prog}: error: {leaf}", file=sys.stderr, flush=True)
                    return 1
            raise

    return run_command(prog, guarded)
