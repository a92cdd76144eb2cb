"""Tests of trio_zmq._tools: the tools over sockets."""
