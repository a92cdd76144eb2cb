"""The Jupyter messaging protocol on trio_zmq, in both directions.

* :mod:`examples.jupyter.kernel`: a minimal Python kernel on trio, which
  ``jupyter_client`` (and so Jupyter's front ends) can start and drive;
* :mod:`examples.jupyter.client`: a trio client that drives a real
  ``ipykernel``: kernel info, code execution with its output, shutdown.

Both speak the wire protocol of :mod:`examples.jupyter.protocol`, written
here for the examples (HMAC-signed multipart messages, connection files)
rather than borrowed from ``jupyter_client``; docs/jupyter.md says how to
run the programs and what the tests prove.
"""
