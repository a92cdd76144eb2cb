"""trio_zmq's benchmarks: scripts run from a source checkout, not shipped in the wheel."""
