"""Layer 4: tools over sockets (poller, monitor, proxy, tracker waits)."""
