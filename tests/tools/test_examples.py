"""The examples of docs/poller.md and docs/trackers.md run, on trio and on
asyncio, and say what the docs say they say; the Poller benchmark runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT


def run(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_poller_example(backend: str) -> None:
    lines = run("examples/poller.py", backend).splitlines()
    assert lines[0] == "idle: []"
    assert lines[-1] == "done: 3 jobs"
    # The order between the sockets and the pipe is the scheduler's.
    assert sorted(lines[1:-1]) == [
        "control: stop",
        "pipe: hello through the pipe",
        "worker: job 0",
        "worker: job 1",
        "worker: job 2",
    ]
    assert [line for line in lines if line.startswith("worker")] == [
        f"worker: job {n}" for n in range(3)
    ]


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_trackers_example(backend: str) -> None:
    lines = run("examples/trackers.py", backend).splitlines()
    for letter in "ABC":
        assert f"sent {letter!r}, tracker done=True" in lines
        assert f"received 1048576 bytes of {letter!r}: intact=True" in lines
    assert lines[-2:] == [
        "unsent message: zmq.NotDone after 50 ms",
        "unsent message: cancelled=True, done=False",
    ]


def test_poller_benchmark_runs(tmp_path: Path) -> None:
    out = run("-m", "benchmarks", "poller", "--quick", "--json", str(tmp_path / "poller.json"))
    for row in ("trio_zmq/trio", "trio_zmq/asyncio", "zmq.asyncio", "pyzmq (thread)"):
        assert out.count(f"\n  {row} ") == 4  # ready and wake, over 1 and 10 sockets
