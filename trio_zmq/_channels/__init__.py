"""Layer 3: sockets as trio channels."""
