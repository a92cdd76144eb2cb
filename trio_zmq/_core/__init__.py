"""Layer 1: the probe/wait engine over ZMQ_FD and ZMQ_EVENTS."""
