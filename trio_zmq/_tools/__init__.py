"""Layer 4: tools built on sockets (poller, monitor, proxy, tracker)."""
