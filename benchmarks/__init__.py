"""trio_zmq's benchmarks: run from a source checkout, not shipped in the wheel.

``python -m benchmarks COMMAND`` (``nox -s bench -- COMMAND ...`` installs
what they need, the ``bench`` extra, and runs them):

* ``bench`` (:mod:`benchmarks.bench`): trio_zmq side by side with pyzmq,
  zmq.asyncio, zmq-anyio and a trio memory channel, against a
  blocking-pyzmq peer process (:mod:`benchmarks.peer`);
* ``wake`` (:mod:`benchmarks.wake`): wake-up-bound services in one process
  (pipelines, ping-pong, a relay ring, fan-in, a ROUTER with parked
  clients), trio_zmq against zmq.asyncio and a naive trio loop, and the
  cost of one park and wake;
* ``costs`` (:mod:`benchmarks.costs`): microseconds per call in one
  process, against trio's floor and zmq.asyncio;
* ``engines`` (:mod:`benchmarks.engines`): the engine's trio-native path
  against its anyio path.

docs/performance.md says how to read them, and quotes runs.
"""
