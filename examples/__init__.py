"""Runnable examples for the pages of docs/; the test suite imports and runs each."""
