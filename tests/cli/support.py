"""Running ``trio-zmq`` as a shell does, from the checkout under test.

The commands run as ``python -m trio_zmq`` with the directory of the
``trio_zmq`` these tests import first on PYTHONPATH: an installed
``trio-zmq`` script could belong to another checkout.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import trio_zmq

#: Seconds any one command may take (a liveness bound).
BOUND = 30.0
#: The command, through the interpreter running the tests.
TRIO_ZMQ = [sys.executable, "-m", "trio_zmq"]
#: Runs its arguments as a command with Ctrl-C at its default: a shell that
#: started these tests in the background may have set SIGINT to be ignored,
#: which a child inherits (and then Ctrl-C would do nothing at all).
WITH_CTRL_C = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])",
]
_CHECKOUT = str(Path(trio_zmq.__file__).resolve().parent.parent)
#: The environment of every command: this checkout's trio_zmq comes first.
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [_CHECKOUT, os.environ.get("PYTHONPATH")])),
}


def start(
    *args: str,
    ctrl_c: bool = False,
    stdin: int | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``trio-zmq ARGS...`` in the background, its stdout and stderr piped
    (``ctrl_c``: with SIGINT at its default; ``env``: variables added to
    :data:`ENV`)."""
    command = [*WITH_CTRL_C, *TRIO_ZMQ] if ctrl_c else TRIO_ZMQ
    return subprocess.Popen(
        [*command, *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**ENV, **(env or {})},
    )


def finish(process: subprocess.Popen[bytes]) -> tuple[int, bytes, bytes]:
    """Wait for ``process`` (killing it after :data:`BOUND`); its status, stdout, stderr."""
    try:
        out, err = process.communicate(timeout=BOUND)
    finally:
        if process.returncode is None:
            process.kill()
            process.communicate()
    return process.returncode, out, err


def run(
    *args: str, stdin: bytes = b"", env: Mapping[str, str] | None = None, umask: int = -1
) -> tuple[int, bytes, bytes]:
    """``trio-zmq ARGS...`` to its end, fed ``stdin``, with variables ``env``
    added to :data:`ENV` and ``umask`` (-1: this process's): its status,
    stdout, stderr."""
    done = subprocess.run(
        [*TRIO_ZMQ, *args],
        input=stdin,
        capture_output=True,
        timeout=BOUND,
        check=False,
        env={**ENV, **(env or {})},
        umask=umask,
    )
    return done.returncode, done.stdout, done.stderr


def first_line(process: subprocess.Popen[bytes], timeout: float = BOUND) -> bytes:
    """The next line ``process`` writes to stdout, within ``timeout`` seconds."""
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], timeout)
    assert readable, f"no output within {timeout:g} s"
    return process.stdout.readline()
