"""A Mongrel2 handler on trio_zmq: the example the project's seed thread ends with.

* :mod:`examples.mongrel2.protocol`: Mongrel2's messages, netstrings and
  replies, parsed and built as plain bytes, with clear errors;
* :mod:`examples.mongrel2.handler`: the handler, worker tasks in one
  nursery sharing one PULL and one PUB socket, which cancels the work for a
  connection when Mongrel2 says its client has gone;
* :mod:`examples.mongrel2.server`: runs the real ``mongrel2`` from the
  config template ``mongrel2.conf`` (``m2sh load``, then the process, in a
  nursery task);
* :mod:`examples.mongrel2.client`: a small keep-alive HTTP/1.1 client on
  trio streams.

``python -m examples.mongrel2`` runs Mongrel2 and the handler together;
docs/mongrel2.md says how it works and what the tests prove.
"""
