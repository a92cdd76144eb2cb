"""What every command line of the project shares: its errors are one line.

* a subcommand is a :class:`Command`: the set-up of its parser and what it
  runs, which the parser dispatches to with ``set_defaults(handler=...)``;
* a bad argument: ``PROG: error: MESSAGE (see PROG --help)``, exit status 2
  (argparse's default prints the whole usage first);
* Ctrl-C: ``PROG: interrupted``, exit status 130, whether trio, asyncio or
  plain Python was running at the moment and whether a nursery wrapped the
  :exc:`KeyboardInterrupt` in an exception group -- never a traceback.

``trio-zmq`` uses it, and so do the benchmarks of the source checkout
(``python -m benchmarks``).
"""

from __future__ import annotations

import _thread
import argparse
import dataclasses
import signal
import sys
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn, final

if TYPE_CHECKING:
    from sys import UnraisableHookArgs

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup  # a dependency of trio there

#: The exit status of a command ended by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose errors take one line.

    Its subcommands' parsers are of this class too (argparse makes them of
    the parent's class).
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


@final
@dataclasses.dataclass(frozen=True)
class Command:
    """A subcommand: its name and help, how its parser is set up, and what it runs.

    Attributes:
      name: the word that selects it (``send``).
      help: one line, for the list of subcommands.
      description: what its own ``--help`` says first.
      add_arguments: adds its arguments to its (sub)parser.
      run: runs it with its parser (for the errors it finds in the
        arguments, exit status 2) and the parsed arguments; returns the exit
        status.
    """

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.ArgumentParser, argparse.Namespace], int]


def positive_int(text: str) -> int:
    """An argparse type: an integer above zero."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {value}")
    return value


def is_interrupt(exc: BaseException) -> bool:
    """KeyboardInterrupt, possibly inside a nursery's exception group."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(KeyboardInterrupt) is not None
    return isinstance(exc, KeyboardInterrupt)


def _interrupt_soon() -> None:
    time.sleep(0.01)
    signal.raise_signal(signal.SIGINT)


def run_command(prog: str, command: Callable[[], int]) -> int:
    """Run ``command`` and return its exit status; on Ctrl-C, say so in one
    line on stderr and return :data:`INTERRUPTED`.

    A Ctrl-C that lands while a finalizer (``__del__``, a weakref callback)
    runs is swallowed by Python, which only prints it: for the duration of
    the command it is raised again instead, so that it is never lost.  After
    an interruption, warnings are off: the process is about to exit.

    Args:
      prog: how the command is called, for the message (``trio-zmq demo``).
      command: does the work; returns the exit status.
    """
    previous_hook = sys.unraisablehook

    def redeliver(unraisable: UnraisableHookArgs) -> None:
        interrupt = unraisable.exc_type is not None and issubclass(
            unraisable.exc_type, KeyboardInterrupt
        )
        if interrupt and callable(signal.getsignal(signal.SIGINT)):
            # Again, through the SIGINT handler in force (trio's, inside
            # trio.run), from another thread a moment later: raised in the
            # hook, it would be swallowed once more.  (threading.Thread's
            # start() would wait for the thread, where it could land too.)
            _thread.start_new_thread(_interrupt_soon, ())
            return
        previous_hook(unraisable)

    sys.unraisablehook = redeliver
    try:
        return command()
    except (KeyboardInterrupt, BaseExceptionGroup) as exc:
        if not is_interrupt(exc):
            raise
        print(f"{prog}: interrupted", file=sys.stderr, flush=True)
        # What the interrupted work leaves behind (a coroutine never
        # awaited, an unclosed socket) is collected as the process exits:
        # expected now, and not worth a warning after that one line.
        warnings.simplefilter("ignore")
        return INTERRUPTED
    finally:
        sys.unraisablehook = previous_hook
