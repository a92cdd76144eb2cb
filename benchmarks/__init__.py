"""trio_zmq's benchmarks: run from a source checkout, not shipped in the wheel."""
