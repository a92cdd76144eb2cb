"""trio_zmq's benchmarks: run from a source checkout, not shipped in the wheel.

``python -m benchmarks SET [OPTIONS]`` (``nox -s bench -- SET ...`` installs
what they need, the ``bench`` extra, and runs them); ``python -m benchmarks
--help`` lists the sets.  Every set is a workload set of
:mod:`benchmarks.framework`: implementations side by side on the same
workloads, interleaved round by round, reported as medians, best rounds
and ratios within the run (:mod:`benchmarks.report`), with a JSON file and,
on request, a chart (:mod:`benchmarks.chart`).  :mod:`benchmarks.cli` is
the command line; :mod:`benchmarks.loops` runs a trial's coroutine on trio,
asyncio or anyio within its deadline.

The sets: ``bench`` (:mod:`benchmarks.bench`, against a peer process),
``wake`` (:mod:`benchmarks.wake`), ``instructions``
(:mod:`benchmarks.instructions`), ``costs``, ``engines``, ``poller``,
``proxy``, ``auth`` and ``monitor``, each in the module of its name.
"""
