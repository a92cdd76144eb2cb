"""Layer 2: Socket and Context, over one Port per socket (see _port)."""
