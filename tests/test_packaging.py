"""The wheel ships the library and nothing else.

The benchmarks (``benchmarks/`` beside the package) run from a source
checkout; a wheel that carried them, or any bench/costs/engines module left
inside ``trio_zmq``, would ship half the repository's lines to every user.
This builds the wheel for real, as pip would for an install.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers import ROOT

#: Module names that belong to the benchmarks, not to the library.
BENCHMARK_MODULE = re.compile(r"bench|costs|engines")


def test_the_wheel_holds_only_the_library(tmp_path: Path) -> None:
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    [wheel] = tmp_path.glob("trio_zmq-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    tops = {name.split("/")[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"trio_zmq"}
    assert [name for name in names if name.startswith("benchmarks/")] == []
    library = [name for name in names if name.startswith("trio_zmq/")]
    assert [n for n in library if BENCHMARK_MODULE.search(n.rsplit("/", 1)[-1])] == []
    assert "trio_zmq/py.typed" in names
    # The one command it installs runs a module the wheel has.
    assert "trio-zmq = trio_zmq._cli._main:main" in scripts
    assert "trio_zmq/_cli/_main.py" in names
