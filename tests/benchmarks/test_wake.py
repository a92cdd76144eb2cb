"""``python -m benchmarks wake``: every workload runs on every implementation.

Smoke tests of the measuring code; no timing is asserted.  Besides a tiny
run of everything, they check what the figures rest on: the ring really
parks every receive (counted on the naive loop), the naive asyncio loop
does not spin on a signal nobody waits for, the idle workload parks a task
on every pair, every trial is bounded by its deadline on each event loop,
and a failing task ends an asyncio trial with its error instead of leaving
the trial to wait for its deadline.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, cast

import pytest
import zmq
from trio.lowlevel import wait_readable

from benchmarks import wake, wake_impls
from benchmarks.cli import main
from benchmarks.framework import Implementation, TrialTimeout, Workload

IMPLEMENTATIONS = {impl.key: impl for impl in wake.IMPLEMENTATIONS}


def test_a_tiny_run_measures_every_workload_on_every_implementation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wake.json"
    assert main(["wake", "--rounds", "2", "--jobs", "48", "--json", str(path)]) == 0
    text = capsys.readouterr().out
    document = json.loads(path.read_text())
    assert [record["key"] for record in document["workloads"]] == [
        workload.key for workload in wake.workloads(48)
    ]
    for record in document["workloads"]:
        assert list(record["results"]) == list(IMPLEMENTATIONS), record["key"]
        for key, result in record["results"].items():
            assert len(result["rounds"]) == 2, (record["key"], key)
            assert all(rate > 0 for rate in result["rounds"]), (record["key"], key)
        assert record["results"][wake.BASELINE]["vs_zmq_asyncio"]["median"] == 1.0
    assert set(document["park_and_wake_us"]) == set(IMPLEMENTATIONS)
    for workload in wake.workloads(48):
        assert workload.title in text
    assert "park-and-wake cost" in text
    assert "vs naive" in text
    # The ratio table: a line per workload, a column per ratio, median (best).
    ratios = document["ratios"]
    assert list(ratios) == [workload.key for workload in wake.workloads(48)]
    for key, columns in ratios.items():
        assert list(columns) == [ratio.heading for ratio in wake.RATIOS], key
        assert columns["tz-trio / zmq.asyncio"]["median"] > 0
    assert "met" in ratios["ping-pong"]["tz-trio / zmq.asyncio"]
    assert "met" not in ratios["ring"]["tz-trio / zmq.asyncio"]  # that target is ping-pong's
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert "workload zmq.asyncio sockets (trio) sockets (asyncio) naive trio" in " ".join(lines)
    # The idle pairs side by side, the target on trio_zmq on trio and on asyncio.
    spread = document["idle_spread"]
    assert set(spread) == set(IMPLEMENTATIONS)
    assert "met" in spread[wake.SUBJECT]
    assert "met" in spread[wake_impls.ON_ASYNCIO]
    assert "met" not in spread[wake.BASELINE]
    assert any(line.startswith("implementation 1 100 500 500 vs 1") for line in lines)


def test_only_selects_groups_and_the_command_prints_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wake.json"
    assert main(["wake", "--quick", "--only", "ping-pong,router", "--json", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "ping-pong over an inproc PAIR" in out
    assert "ROUTER server" in out
    assert "pipeline" not in out
    assert "park-and-wake" not in out  # the ring was not run
    assert "round 2/2" in err  # progress, on stderr
    assert {r["key"] for r in json.loads(path.read_text())["workloads"]} == {"ping-pong", "router"}


def test_every_receive_in_the_ring_parks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The park-and-wake figure is a hop of the ring: so every hop must park."""
    parks = 0

    async def counting(fd: int) -> None:
        nonlocal parks
        parks += 1
        await wait_readable(fd)

    monkeypatch.setattr(wake_impls, "wait_readable", counting)
    jobs = 60
    laps = jobs // wake.RING_TASKS
    IMPLEMENTATIONS[wake.FLOOR].run(lambda api: wake.ring(api, jobs), 30)
    # Every hop of every lap, and of the warm-up lap.
    assert parks >= (laps + 1) * wake.RING_TASKS


def test_the_naive_asyncio_loop_takes_a_signal_nobody_waits_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ZMQ_FD stays readable until someone reads ZMQ_EVENTS: a reader
    callback that only woke waiters would run on every pass of the loop."""
    calls = 0
    readable = wake_impls._Watch._readable

    def counting(watch: Any) -> None:
        nonlocal calls
        calls += 1
        readable(watch)

    monkeypatch.setattr(wake_impls._Watch, "_readable", counting)

    async def body(api: wake.Api) -> float:
        near = api.socket(zmq.PAIR)
        far = api.socket(zmq.PAIR)
        near.bind("inproc://signal")
        far.connect("inproc://signal")
        receive = api.receiver(near)  # registers the reader; nobody waits
        await api.sender(far)(b"unread")
        await asyncio.sleep(0.1)
        assert await receive() == b"unread"
        return 1.0

    IMPLEMENTATIONS[wake_impls.ASYNCIO_FLOOR].run(body, 30)
    assert calls < 10


@pytest.mark.parametrize("key", [wake.SUBJECT, wake_impls.CHANNELS_ON_ASYNCIO, wake.BASELINE])
def test_the_idle_workload_parks_a_task_on_every_pair(
    key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every echo task is parked in its receive when the driver starts."""
    pairs, jobs = 20, 40
    marks: list[tuple[str, int]] = []

    class Counting:
        """The implementation's Api, its receives counted once the section starts."""

        def __init__(self, api: wake.Api) -> None:
            self._api = api
            self.waiting = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self._api, name)

        def receiver(self, sock: Any) -> Any:
            receive = self._api.receiver(sock)

            async def counted() -> Any:
                self.waiting += 1
                try:
                    return await receive()
                finally:
                    self.waiting -= 1

            return counted

    async def body(api: wake.Api) -> float:
        counting = Counting(api)
        monkeypatch.setattr(
            wake, "section_marker", lambda event: marks.append((event, counting.waiting))
        )
        return await wake.idle(cast(wake.Api, counting), jobs, pairs)

    assert IMPLEMENTATIONS[key].run(body, 30) > 0
    # At the start, an echo task waits on each pair's far end.
    assert marks[0] == ("start", pairs)
    assert marks[1][0] == f"stop {jobs}"


async def _stuck(api: wake.Api) -> float:
    """Waits for a message that never comes."""
    receive = api.receiver(api.socket(zmq.PULL))
    await receive()
    raise AssertionError("nothing was sent")


@pytest.mark.parametrize("impl", wake.IMPLEMENTATIONS, ids=lambda impl: impl.key)
def test_a_trial_ends_at_its_deadline(impl: Implementation[wake.Runner]) -> None:
    with pytest.raises(TrialTimeout):
        impl.run(_stuck, 0.2)


def test_the_deadline_is_reported_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stuck = Workload("stuck", "a stuck workload", "jobs/s", _stuck, "ring")
    monkeypatch.setattr(wake, "workloads", lambda jobs, idle_pairs: [stuck])
    assert main(["wake", "--quick", "--timeout", "0.2", "--json", "/nonexistent/never"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("python -m benchmarks wake: error: ")
    assert ", a stuck workload, round 1: not done within 0.2 s" in err[-1]


def test_a_failing_asyncio_task_ends_the_trial_with_its_error() -> None:
    async def body(api: wake.Api) -> float:
        async def fail() -> None:
            raise ValueError("a task failed")

        receive = api.receiver(api.socket(zmq.PULL))
        async with api.group() as group:
            group.start(fail)
            await receive()  # would wait for the deadline, but for the failure
        raise AssertionError("the failure did not end the group")

    with pytest.raises(ValueError, match="a task failed"):
        IMPLEMENTATIONS[wake.BASELINE].run(body, 30)


def test_bad_arguments_take_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["wake", "--jobs", "0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("python -m benchmarks wake: error: argument --jobs: must be positive")
