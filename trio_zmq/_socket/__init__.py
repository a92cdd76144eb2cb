"""Layer 2: Socket and Context."""
