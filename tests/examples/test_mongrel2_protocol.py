"""examples/mongrel2/protocol.py: netstrings, requests and replies, as bytes.

The round trips and the garbage properties run without Mongrel2; the
messages below marked "from mongrel2 1.12.2" were captured from the real
server (tests/examples/test_mongrel2.py runs against it).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from examples.mongrel2.protocol import (
    ProtocolError,
    Request,
    encode_netstring,
    encode_request,
    http_chunk,
    parse_netstring,
    parse_request,
    reply_message,
)

SENDER = b"54c6755b-9628-40a4-9a2d-cc82a816345e"
#: A GET as mongrel2 1.12.2 pushes it.
GET = (
    SENDER + b" 1 /a0 171:{"
    b'"PATH":"/a0","x-forwarded-for":"127.0.0.1","host":"localhost","METHOD":"GET",'
    b'"VERSION":"HTTP/1.1","URI":"/a0","PATTERN":"/","URL_SCHEME":"http",'
    b'"REMOTE_ADDR":"127.0.0.1"},0:,'
)
#: A disconnect notice as mongrel2 1.12.2 pushes it.
DISCONNECT = SENDER + b' 2 @* 17:{"METHOD":"JSON"},21:{"type":"disconnect"},'


def test_real_request() -> None:
    request = parse_request(GET)
    assert request.sender == SENDER
    assert request.conn_id == b"1"
    assert request.path == "/a0"
    assert request.headers["METHOD"] == "GET"
    assert request.headers["URI"] == "/a0"
    assert request.body == b""
    assert not request.is_disconnect


def test_real_disconnect_notice() -> None:
    notice = parse_request(DISCONNECT)
    assert notice.conn_id == b"2"
    assert notice.is_disconnect


def test_other_json_messages_are_not_disconnects() -> None:
    other = Request(SENDER, b"3", "@*", {"METHOD": "JSON"}, b'{"type":"something"}')
    assert not other.is_disconnect
    with pytest.raises(ProtocolError, match="JSON notice body is not JSON"):
        _ = Request(SENDER, b"3", "@*", {"METHOD": "JSON"}, b"{nope").is_disconnect


def test_reply_message() -> None:
    assert reply_message(SENDER, [b"7"], b"hi") == SENDER + b" 1:7, hi"
    assert reply_message(SENDER, [b"7", b"12"], b"") == SENDER + b" 4:7 12, "
    with pytest.raises(ProtocolError, match="at least one connection id"):
        reply_message(SENDER, [], b"hi")
    with pytest.raises(ProtocolError, match="connection id b'7 8' is not a decimal number"):
        reply_message(SENDER, [b"7 8"], b"hi")


def test_http_chunk() -> None:
    assert http_chunk(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"
    assert http_chunk(b"") == b"0\r\n\r\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"5hello,", "no ':' after its length"),
        (b"x5:hello,", "is not a decimal number"),
        (b"-5:hello,", "is not a decimal number"),
        (b":hello,", "is not a decimal number"),
        (b"05:hello,", "has a leading zero"),
        (b"12345678901:x,", "has 11 digits, at most 10"),
        (b"9:hello,", "says 9 bytes but only 6 follow"),
        (b"5:hello;", "does not end with ','"),
        (b"5:hello", "says 5 bytes but only 5 follow"),
    ],
)
def test_malformed_netstrings(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_netstring(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (SENDER + b" 1 /x", "only 3 space-separated fields"),
        (SENDER + b" one /x 2:{},0:,", "connection id b'one' is not a decimal number"),
        (SENDER + b" 1 /x 2:{},0:,extra", "5 bytes after the body netstring"),
        (SENDER + b" 1 /x 2:[],0:,", "headers are JSON but not an object"),
        (SENDER + b" 1 /x 5:{a:b},0:,", "headers are not JSON"),
        (SENDER + b" 1 /x 2:{},3:ab,", "netstring says 3 bytes but only 3 follow"),
        (SENDER + b" 1 /\xff 2:{},0:,", "path is not UTF-8"),
    ],
)
def test_malformed_requests(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_request(data)


@given(st.binary(), st.binary())
def test_netstring_round_trip(payload: bytes, rest: bytes) -> None:
    assert parse_netstring(encode_netstring(payload) + rest) == (payload, rest)


@given(st.binary())
def test_netstring_garbage_is_parsed_or_refused(data: bytes) -> None:
    """Any bytes: a netstring and the rest (which re-encode to ``data``),
    or a ProtocolError; never another exception."""
    try:
        payload, rest = parse_netstring(data)
    except ProtocolError:
        return
    assert encode_netstring(payload) + rest == data


no_space = st.binary(min_size=1, max_size=40).filter(lambda b: b" " not in b)
json_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
requests = st.builds(
    Request,
    sender=no_space,
    conn_id=st.integers(0, 2**32).map(lambda n: str(n).encode()),
    path=st.text(min_size=1, max_size=40).filter(lambda s: " " not in s),
    headers=st.dictionaries(st.text(max_size=20), json_values, max_size=8),
    body=st.binary(max_size=200),
)


@given(requests)
def test_request_round_trip(request: Request) -> None:
    assert parse_request(encode_request(request)) == request


@given(requests, st.data())
def test_damaged_requests_are_parsed_or_refused(request: Request, data: st.DataObject) -> None:
    """A real-looking message cut short, or with a byte changed: a Request
    or a ProtocolError, never another exception."""
    message = bytearray(encode_request(request))
    position = data.draw(st.integers(0, len(message) - 1))
    if data.draw(st.booleans()):
        del message[position:]
    else:
        message[position] = data.draw(st.integers(0, 255))
    parsed_or_refused(bytes(message))


@given(st.binary())
def test_request_garbage_is_parsed_or_refused(data: bytes) -> None:
    parsed_or_refused(data)


def parsed_or_refused(message: bytes) -> None:
    """``message`` parses to a Request whose body is in it, or raises ProtocolError."""
    try:
        parsed = parse_request(message)
    except ProtocolError:
        return
    assert isinstance(parsed, Request)
    assert message.endswith(encode_netstring(parsed.body))
