"""The ``trio-zmq`` command line: ``demo``, ``send``, ``recv``, ``proxy``, ``monitor``, ``keys``."""
