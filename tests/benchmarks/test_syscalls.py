"""``python -m benchmarks syscalls``: the trace's sections, the child's
marks, and a smoke run under strace (where strace is installed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmarks import syscalls, wake
from benchmarks.cli import main
from benchmarks.framework import BenchmarkError

MARK = syscalls.MARK

#: What ``strace -f -o FILE`` writes: two threads (ids padded to five
#: digits), a call cut in two by the other thread's, signals, calls before
#: and after the marks.
TRACE = f"""\
100   read(3, "x", 1) = 1
100   access("{MARK}/ping-pong/start", F_OK) = -1 ENOENT (No such file or directory)
100   getpid() = 100
12345 epoll_wait(5,  <unfinished ...>
100   ppoll([{{fd=7, events=POLLIN}}], 1, [0, 0], NULL, 8) = 0 (Timeout)
12345 <... epoll_wait resumed>[], 256, -1) = 1
100   --- SIGCHLD {{si_signo=SIGCHLD}} ---
100   write(7, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8
12345 epoll_pwait(5, [], 256, 0, NULL, 8) = 0
100   access("{MARK}/ping-pong/stop/2", F_OK) = -1 ENOENT (No such file or directory)
100   read(3, "x", 1) = 1
100   faccessat2(AT_FDCWD, "{MARK}/busy/start", F_OK, 0) = -1 ENOENT (No such file)
100   getpid() = 100
100   faccessat2(AT_FDCWD, "{MARK}/busy/stop/1", F_OK, 0) = -1 ENOENT (No such file)
100   +++ exited with 0 +++
"""


def test_only_the_calls_between_a_workloads_marks_count() -> None:
    sections = syscalls.count_sections(iter(TRACE.splitlines()))
    assert set(sections) == {"ping-pong", "busy"}
    ping_pong = syscalls.per_job(sections["ping-pong"])
    assert ping_pong.value == 5 / 2
    assert ping_pong.extras == {
        "getpid": 0.5,
        "poll": 0.5,
        "epoll_wait": 1.0,
        "epoll_ctl": 0.0,
        "read": 0.0,
        "write": 0.5,
    }
    assert syscalls.per_job(sections["busy"]).value == 1.0


@pytest.mark.parametrize(
    ("trace", "error"),
    [
        (f'1 access("{MARK}/ring/start", F_OK) = -1\n1 getpid() = 1\n', "no end of ring"),
        (f'1 access("{MARK}/ring/stop/3", F_OK) = -1\n', "ring's end without its start"),
    ],
)
def test_a_trace_without_both_marks_fails(trace: str, error: str) -> None:
    with pytest.raises(BenchmarkError, match=error):
        syscalls.count_sections(iter(trace.splitlines()))


def test_the_child_marks_each_workloads_measured_section(monkeypatch: pytest.MonkeyPatch) -> None:
    marks: list[tuple[str, str]] = []
    monkeypatch.setattr(syscalls, "mark", lambda workload, event: marks.append((workload, event)))
    assert syscalls.SET.child([wake.BASELINE, "48", "30", "ping-pong,idle-3,router"]) == 0
    assert marks == [
        ("ping-pong", "start"),
        ("ping-pong", "stop 48"),
        ("idle-3", "start"),
        ("idle-3", "stop 48"),
        ("router", "start"),
        ("router", f"stop {48 // wake.ROUTER_CLIENTS * wake.ROUTER_CLIENTS}"),
    ]


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_a_run_under_strace_counts_every_implementation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "syscalls.json"
    argv = ["syscalls", "--only", "ping-pong", "--jobs", "50", "--rounds", "1"]
    assert main([*argv, "--json", str(path)]) == 0
    out = capsys.readouterr().out
    document = json.loads(path.read_text())
    [record] = document["workloads"]
    assert list(record["results"]) == [impl.key for impl in wake.IMPLEMENTATIONS]
    for key, result in record["results"].items():
        assert result["status"] == "ok", (key, result)
        # A round trip parks somewhere: it takes system calls.
        assert result["median"] > 0, key
        assert set(result) >= set(syscalls.NAMES), key
    assert "tz-asyncio / zmq.asyncio >= 1" in out
    assert "epoll_wait" in out
    assert document["ratios"]["ping-pong"]["tz-asyncio / zmq.asyncio"]["median"] > 0
