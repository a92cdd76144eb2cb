from __future__ import annotations

import zmq

import trio_zmq

from tests.helpers import pair


async def test_push_pull_roundtrip(ctx: trio_zmq.Context, endpoint: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    await push.send(b"hello")
    await push.send_multipart([b"a", b"b", b""])
    assert await pull.recv() == b"hello"
    assert await pull.recv_multipart() == [b"a", b"b", b""]
