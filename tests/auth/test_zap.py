"""The ZAP wire protocol (RFC 27) between libzmq and a ROUTER socket.

First what the design rests on, with no authenticator at all: libzmq takes
replies from a ROUTER socket at its ZAP endpoint in any order.  Then the
authenticator's replies, read by a test that plays libzmq's part: a DEALER
connected to the ZAP endpoint sends requests frame by frame.
"""

from __future__ import annotations

import logging

import anyio
import pytest
import zmq
from zmq.utils import z85

import trio_zmq
import trio_zmq.auth
from trio_zmq.auth import _zap

from tests.auth.support import (
    SUCCEEDED,
    Certificates,
    Gate,
    handshake_end,
    monitored,
    refused,
    round_trip,
    tcp_server,
)
from tests.conftest import ON_EVERY_LOOP
from tests.curve import curve_client, curve_server
from tests.helpers import recv_frames

pytestmark = ON_EVERY_LOOP

CURVE_KEY = bytes(range(32))
GONE_KEY = bytes(range(1, 33))


async def test_libzmq_accepts_replies_out_of_order_from_a_router(
    ctx: trio_zmq.Context, certs: Certificates
) -> None:
    """Two CURVE handshakes ask a bare ROUTER at the ZAP endpoint; it
    answers the second first.  libzmq completes the second handshake while
    the first still waits, then refuses the first with the code it got."""
    zap = ctx.socket(zmq.ROUTER)
    zap.bind(trio_zmq.auth.ZAP_ENDPOINT)
    server = curve_server(ctx.socket(zmq.PULL), certs.server.secret)
    address = tcp_server(server)
    first = curve_client(ctx.socket(zmq.PUSH), certs.server.public, certs.stranger)
    second = curve_client(ctx.socket(zmq.PUSH), certs.server.public, certs.client)
    async with monitored(first) as first_monitor, monitored(second) as second_monitor:
        first.connect(address)
        first_request = await recv_frames(zap)
        second.connect(address)
        second_request = await recv_frames(zap)
        for request in (first_request, second_request):
            # [routing id, delimiter, version, request id, domain, address,
            #  identity, mechanism, key]
            assert request[1:4] == [b"", b"1.0", b"1"]
            assert request[7] == b"CURVE"
        assert first_request[8] != second_request[8]

        await zap.send_multipart([*second_request[:2], b"1.0", b"1", b"200", b"OK", b"me", b""])
        assert await handshake_end(second_monitor) == SUCCEEDED
        await round_trip(server, second, b"second first")
        await zap.send_multipart([*first_request[:2], b"1.0", b"1", b"400", b"No", b"", b""])
        assert await handshake_end(first_monitor) == refused(400)


async def zap_exchange(ctx: trio_zmq.Context, *request: bytes) -> list[bytes]:
    """Send ``request`` to the context's ZAP handler as libzmq would (after
    an empty delimiter); the reply, delimiter removed."""
    requester = ctx.socket(zmq.DEALER)
    requester.connect(trio_zmq.auth.ZAP_ENDPOINT)
    await requester.send_multipart([b"", *request])
    reply = await recv_frames(requester)
    requester.close()
    assert reply[0] == b""
    return reply[1:]


def curve_request(request_id: bytes, key: bytes = CURVE_KEY) -> list[bytes]:
    return [b"1.0", request_id, b"", b"127.0.0.1", b"", b"CURVE", key]


async def test_reply_frames(ctx: trio_zmq.Context) -> None:
    """RFC 27's reply: version, the request id echoed, status code and text,
    user id (only on success), metadata."""
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.deny("192.0.2.7")
    async with auth:
        ok = await zap_exchange(ctx, b"1.0", b"id-1", b"", b"127.0.0.1", b"", b"NULL")
        no = await zap_exchange(ctx, b"1.0", b"id-2", b"", b"192.0.2.7", b"", b"NULL")
    assert ok == [b"1.0", b"id-1", b"200", b"OK", b"anonymous", b""]
    assert no == [b"1.0", b"id-2", b"400", b"Address denied", b"", b""]


@pytest.mark.parametrize(
    ("request_frames", "reply"),
    [
        ([b"1.0", b"7"], [b"1.0", b"7", b"400", b"Not enough frames", b"", b""]),
        (
            [b"2.0", b"7", b"", b"127.0.0.1", b"", b"NULL"],
            [b"1.0", b"7", b"400", b"Invalid version", b"", b""],
        ),
        (
            [b"1.0", b"7", b"", b"127.0.0.1", b"", b"PLAIN", b"user"],
            [b"1.0", b"7", b"400", b"Invalid credentials", b"", b""],
        ),
        (curve_request(b"7", b"short"), [b"1.0", b"7", b"400", b"Invalid credentials", b"", b""]),
        (
            [b"1.0", b"7", b"", b"127.0.0.1", b"", b"GSSAPI", b"principal"],
            [b"1.0", b"7", b"400", b"Unsupported mechanism", b"", b""],
        ),
    ],
    ids=["too-few-frames", "version", "plain-credentials", "curve-key", "gssapi"],
)
async def test_bad_requests_get_400_and_serving_goes_on(
    ctx: trio_zmq.Context, request_frames: list[bytes], reply: list[bytes]
) -> None:
    async with trio_zmq.auth.Authenticator(ctx):
        assert await zap_exchange(ctx, *request_frames) == reply
        # Still serving.
        ok = await zap_exchange(ctx, b"1.0", b"8", b"", b"127.0.0.1", b"", b"NULL")
        assert ok[2] == b"200"


async def test_unanswerable_message_is_dropped_and_logged(
    ctx: trio_zmq.Context, caplog: pytest.LogCaptureFixture
) -> None:
    """Without a request id nothing can be answered: the message is logged
    and serving goes on."""
    async with trio_zmq.auth.Authenticator(ctx):
        requester = ctx.socket(zmq.DEALER)
        requester.connect(trio_zmq.auth.ZAP_ENDPOINT)
        await requester.send_multipart([b"", b"1.0"])
        ok = await zap_exchange(ctx, b"1.0", b"9", b"", b"127.0.0.1", b"", b"NULL")
        assert ok[2] == b"200"
    assert "Invalid ZAP message (Not enough frames)" in caplog.text
    assert not await requester.poll(0)


PASSWORD = "hunter2-never-logged"
_PLAIN_HEAD = [b"1.0", b"7", b"", b"127.0.0.1", b"", b"PLAIN"]


@pytest.mark.parametrize(
    ("message", "logged"),
    [
        ([b"", b"2.0", *_PLAIN_HEAD[1:], b"admin", PASSWORD.encode()], "Invalid version"),
        ([b"", b"1.0", b"7", b"", PASSWORD.encode()], "Not enough frames"),
        (
            # No empty frame anywhere: nothing says where the request starts.
            [b"1.0", b"7", b"d", b"127.0.0.1", b"r", b"PLAIN", b"admin", PASSWORD.encode()],
            "no envelope delimiter",
        ),
        ([b"", *_PLAIN_HEAD, b"admin", PASSWORD.encode(), b"extra"], "Invalid credentials"),
        ([b"", *_PLAIN_HEAD, b"admin", PASSWORD.encode()], "Invalid password"),
    ],
    ids=["version", "too-few-frames", "no-delimiter", "extra-frame", "wrong-password"],
)
async def test_no_log_record_holds_a_password(
    ctx: trio_zmq.Context,
    caplog: pytest.LogCaptureFixture,
    message: list[bytes],
    logged: str,
) -> None:
    """PLAIN requests carrying a password, malformed or refused: every
    record the authenticator logs, at every level, leaves the password out
    of its message, its arguments and its exception."""
    caplog.set_level(logging.DEBUG, logger="trio_zmq.auth")
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_plain(passwords={"admin": "the right one"})
    async with auth:
        requester = ctx.socket(zmq.DEALER)
        requester.connect(trio_zmq.auth.ZAP_ENDPOINT)
        await requester.send_multipart(message)
        # The same pipe: once this is answered, the message has been read.
        await requester.send_multipart([b"", b"1.0", b"8", b"", b"127.0.0.1", b"", b"NULL"])
        while (await recv_frames(requester))[2] != b"8":
            pass
        requester.close()
    assert logged in caplog.text
    for record in caplog.records:
        exception = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        seen = [record.getMessage(), repr(record.msg), repr(record.args), exception]
        seen += [str(record.exc_text), str(record.stack_info)]
        for text in seen:
            assert PASSWORD not in text
            assert repr(PASSWORD.encode())[2:-1] not in text


async def test_reply_to_a_requester_that_went_away(
    ctx: trio_zmq.Context, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that goes away while its callback runs: the late reply is
    dropped (ROUTER_MANDATORY says so, and it is logged), and serving goes
    on."""
    caplog.set_level(logging.DEBUG, logger="trio_zmq.auth")
    gate = Gate(held=lambda key: key == z85.encode(GONE_KEY))
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_curve_callback(credentials_provider=gate)
    async with auth:
        gone = ctx.socket(zmq.DEALER)
        gone.connect(trio_zmq.auth.ZAP_ENDPOINT)
        await gone.send_multipart([b"", *curve_request(b"gone", GONE_KEY)])
        await gate.until_entered()
        gone.close(linger=0)
        # The ROUTER learns of the closed pipe when libzmq processes the
        # command; a request from another peer makes it look.
        gate.release.set()
        reply = await zap_exchange(ctx, *curve_request(b"next"))
        assert reply[1:3] == [b"next", b"200"]
        assert auth.running
    # Either the router dropped the reply silently (its pipe was already
    # gone) or ROUTER_MANDATORY reported it; never an error out of run().
    assert "ERROR" not in caplog.text


async def test_stop_answers_requests_received_and_unread(ctx: trio_zmq.Context) -> None:
    """Requests sent right before stop(), with no checkpoint in between:
    whether the authenticator has read them (then their callback is
    cancelled) or not (then the final drain reads them), each gets 500
    "authenticator stopping", with its request id."""

    gate = Gate()
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_curve_callback(credentials_provider=gate)
    requesters = []
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(auth.run)
            for _ in range(3):
                requester = ctx.socket(zmq.DEALER)
                requester.connect(trio_zmq.auth.ZAP_ENDPOINT)
                requesters.append(requester)
            # Let the first one be read and reach its callback.
            await requesters[0].send_multipart([b"", *curve_request(b"0")])
            await gate.until_entered()
            for number in (1, 2):
                requesters[number].send_multipart_nowait([b"", *curve_request(b"%d" % number)])
            auth.stop()
    for number, requester in enumerate(requesters):
        reply = await recv_frames(requester)
        assert reply == [
            b"",
            b"1.0",
            b"%d" % number,
            b"500",
            trio_zmq.auth.STOPPING.encode(),
            b"",
            b"",
        ]


def test_reply_frames_checks_its_input() -> None:
    with pytest.raises(ValueError, match="status code"):
        _zap.reply_frames([b"", b""], b"1", 201, "OK")
    with pytest.raises(ValueError, match="255 bytes"):
        _zap.reply_frames([b"", b""], b"1", 400, "x" * 256)
