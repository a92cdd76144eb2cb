"""A peer process for the tests: blocking pyzmq, nothing from trio_zmq.

Usage: python peer.py MODE ADDRESS COUNT
  push-seq  connect a PUSH to ADDRESS and send COUNT sequence numbers
            (8-byte big-endian), then exit
  pull-count  connect a PULL and receive COUNT messages; print them, one per line
  dealer-echo  connect a DEALER and echo COUNT multipart messages back
"""

from __future__ import annotations

import sys

import zmq


def main() -> int:
    mode, address, count_text = sys.argv[1:4]
    count = int(count_text)
    ctx = zmq.Context()
    try:
        if mode == "push-seq":
            sock = ctx.socket(zmq.PUSH)
            sock.connect(address)
            for n in range(count):
                sock.send(n.to_bytes(8, "big"))
            sock.close(linger=10_000)
        elif mode == "pull-count":
            sock = ctx.socket(zmq.PULL)
            sock.connect(address)
            for _ in range(count):
                print(sock.recv().hex(), flush=True)
            sock.close()
        elif mode == "dealer-echo":
            sock = ctx.socket(zmq.DEALER)
            sock.connect(address)
            for _ in range(count):
                sock.send_multipart(sock.recv_multipart())
            sock.close(linger=10_000)
        else:
            print(f"unknown mode {mode}", file=sys.stderr)
            return 2
    finally:
        ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
