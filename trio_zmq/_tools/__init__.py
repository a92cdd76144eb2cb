"""The tool layer, above sockets and channels: Poller, tracker waits, proxy, monitor."""
