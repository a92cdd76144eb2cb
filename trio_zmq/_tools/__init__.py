"""Layer 3: tools over sockets (the Poller, tracker waits), built on the engine."""
