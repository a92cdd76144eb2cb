"""docs/auth.md's example, examples/auth_curve.py, runs as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "auth_curve.py"


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
