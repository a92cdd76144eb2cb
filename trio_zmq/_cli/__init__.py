"""The ``trio-zmq`` command line: ``demo`` (and, later, ``bench``)."""
