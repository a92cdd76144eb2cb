"""The scripts of docs/auth.md run as documented: the example
(examples/auth_curve.py) and the benchmark (benchmarks/auth.py,
in a quick form)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

EXAMPLE = ROOT / "examples" / "auth_curve.py"


def test_auth_curve_example_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,  # a liveness bound: it takes well under a second
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout
    assert lines[0].startswith("client: hello, client (user id ")
    assert lines[1] == "stranger: refused (ZAP status 400)"


def test_benchmark_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "auth",
            "--rounds=1",
            "--clients=2",
            "--delay=0.01",
            f"--json={tmp_path / 'auth.json'}",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,  # a liveness bound
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = [line[2:28].strip() for line in lines if line.startswith("  ") and "x (" in line]
    authenticators = [
        "trio_zmq (trio)",
        "trio_zmq (asyncio)",
        "pyzmq ThreadAuthenticator",
        "pyzmq AsyncioAuthenticator",
    ]
    assert rows == authenticators * 2, result.stdout
