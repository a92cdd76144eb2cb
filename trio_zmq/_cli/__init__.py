"""The ``trio-zmq`` command line: ``demo``."""
