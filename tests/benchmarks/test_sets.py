"""Every workload set runs under ``python -m benchmarks``: a smoke run each.

No timing is asserted: each run must give every applicable implementation
a figure on every workload of the run, in the report and in the JSON file.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

import trio_zmq
from benchmarks import cli, costs
from benchmarks.cli import main

#: A quick run of each set (a few seconds each); the ones CI runs too.
SMOKE_RUNS = {
    "bench": ["--quick", "--rounds", "1", "--only", "reqrep,inproc"],
    "costs": ["--quick", "--rounds", "1"],
    "engines": ["--quick", "--rounds", "1"],
    "poller": ["--quick", "--sizes", "1,3"],
    "proxy": ["--quick", "--messages", "500"],
    "auth": ["--quick", "--clients", "2"],
    "monitor": ["--connections", "20"],
}


def test_help_lists_every_set_with_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for workload_set in cli.SETS:
        assert f"{workload_set.name} {' '.join(workload_set.help.split())}" in out


def test_an_unknown_set_is_one_line_and_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-set"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("python -m benchmarks: error: argument SET: invalid choice")


@pytest.mark.parametrize("name", SMOKE_RUNS)
def test_a_smoke_run_gives_every_row_its_figures(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"{name}.json"
    assert main([name, *SMOKE_RUNS[name], "--json", str(path)]) == 0
    out = capsys.readouterr().out
    document = json.loads(path.read_text())
    assert document["benchmark"] == name
    assert document["workloads"]
    for record in document["workloads"]:
        assert record["title"] in out
        for key, result in record["results"].items():
            if result["status"].startswith("n/a (a round trip"):
                continue  # the bench's one-task memory channel says why it has no row
            if key == "zmq_anyio" and result["status"] != "ok":
                continue  # optional: not installed everywhere
            assert result["status"] == "ok", (record["key"], key, result)
            assert result["label"] in out
            assert all(value >= 0 for value in result["rounds"]), (record["key"], key)


def test_costs_closes_every_trio_zmq_socket_it_wraps(tmp_path: Path) -> None:
    """The pipes' wrappers are closed through trio_zmq, not behind its back."""
    assert main(["costs", "--quick", "--rounds", "1", "--json", str(tmp_path / "c.json")]) == 0
    gc.collect()
    open_sockets = [
        obj for obj in gc.get_objects() if isinstance(obj, trio_zmq.Socket) and not obj.closed
    ]
    assert open_sockets == []
    assert {impl.key for impl in costs.IMPLEMENTATIONS} >= {"floor", "trio_zmq", "zmq_asyncio"}
