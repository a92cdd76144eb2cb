"""``import trio_zmq`` refuses a libzmq older than it needs, and says why.

pip cannot see which libzmq pyzmq runs, so the check is at import time
(``trio_zmq/_libzmq.py``).  No old libzmq is at hand, so these tests replace
pyzmq's ``zmq.zmq_version_info`` with one that reports an old version: in
this process for the check itself, and in a fresh interpreter for the import
a user would see.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import zmq

from trio_zmq import _libzmq

from tests.helpers import ROOT


def test_the_libzmq_here_is_new_enough() -> None:
    assert tuple(zmq.zmq_version_info()) >= _libzmq.LIBZMQ_MINIMUM
    _libzmq.require_libzmq()


@pytest.mark.parametrize("version", [(4, 3, 0), (4, 3, 5), (5, 0, 0)])
def test_libzmq_from_4_3_0_on_passes(
    monkeypatch: pytest.MonkeyPatch, version: tuple[int, ...]
) -> None:
    monkeypatch.setattr(zmq, "zmq_version_info", lambda: version)
    _libzmq.require_libzmq()


@pytest.mark.parametrize("version", [(3, 2, 5), (4, 1, 8), (4, 2, 5)])
def test_an_older_libzmq_is_refused_naming_what_is_needed(
    monkeypatch: pytest.MonkeyPatch, version: tuple[int, int, int]
) -> None:
    monkeypatch.setattr(zmq, "zmq_version_info", lambda: version)
    found = ".".join(map(str, version))
    with pytest.raises(ImportError) as raised:
        _libzmq.require_libzmq()
    message = str(raised.value)
    assert (
        f"needs libzmq 4.3.0 or newer, but pyzmq {zmq.pyzmq_version()} runs libzmq {found}"
        in message
    )
    assert "pip install --force-reinstall --only-binary pyzmq pyzmq" in message


def test_import_trio_zmq_fails_with_the_message() -> None:
    """What a user with pyzmq built against libzmq 4.2.5 sees: the import
    fails at its first line, with the message, not somewhere later."""
    program = "import zmq; zmq.zmq_version_info = lambda: (4, 2, 5); import trio_zmq"
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: trio_zmq needs libzmq 4.3.0 or newer"), done.stderr
    assert "runs libzmq 4.2.5" in last
