"""Reliable request-reply from the ZeroMQ guide, chapter 4, on trio_zmq.

* :mod:`examples.pirate.client`: the *Lazy Pirate* client, a REQ socket
  with a timeout that retries on a fresh socket and then gives up;
* :mod:`examples.pirate.queue`: the *Paranoid Pirate* queue, a ROUTER for
  clients and a ROUTER for workers, which keeps only workers whose
  heartbeats arrive;
* :mod:`examples.pirate.worker`: the *Paranoid Pirate* worker, a DEALER
  that heartbeats and reconnects with backoff when the queue goes silent.

The wire format is in :mod:`examples.pirate.protocol`; docs/pirate.md says
how to run the programs and what the tests prove.
"""
