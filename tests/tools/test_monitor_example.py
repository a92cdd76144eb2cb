"""The example of docs/monitor.md (examples/monitor.py) runs and shows what
the page says: each client's ACCEPTED, HANDSHAKE_SUCCEEDED and DISCONNECTED,
then the server's CLOSED, and the end of the events."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from examples import monitor as example

EXAMPLE = Path(example.__file__)


async def test_the_example_runs() -> None:
    log = await example.main()
    assert log.count("ACCEPTED") == example.CLIENTS
    assert log.count("HANDSHAKE_SUCCEEDED") == example.CLIENTS
    assert log.count("DISCONNECTED") == example.CLIENTS
    assert log[-1] == "CLOSED"


def test_the_example_runs_as_a_script() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=True
    )
    assert "server got 'hello from client 1'" in result.stdout
    assert result.stdout.count("DISCONNECTED") == example.CLIENTS
