"""What Mongrel2 and its handlers say to each other over ZeroMQ.

Mongrel2 PUSHes each HTTP request to its handlers as one message::

    SENDER CONN_ID PATH NETSTRING(headers as JSON) NETSTRING(body)

``SENDER`` is the handler's ``send_ident`` from the Mongrel2 config,
``CONN_ID`` the decimal id of the client's connection (the same for every
request on one keep-alive connection) and a netstring is ``LENGTH:DATA,``.
A handler answers by PUBlishing to Mongrel2's SUB socket::

    SENDER NETSTRING(conn ids separated by spaces) BODY

where ``BODY`` is the raw bytes to write to those connections, a complete
HTTP response or a piece of one; an empty ``BODY`` closes them.  When a
client hangs up (or a reply goes to a connection that is gone) Mongrel2
sends a *disconnect notice*: a request whose headers say ``"METHOD":
"JSON"`` and whose body is ``{"type":"disconnect"}``.

Everything here is plain functions over bytes; anything malformed raises
:class:`ProtocolError` saying what is wrong, never a bare ``ValueError``
from deep inside.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: The longest length prefix a netstring may have (a gigabyte has ten digits).
MAX_LENGTH_DIGITS = 10


class ProtocolError(ValueError):
    """A message that does not follow Mongrel2's protocol."""


def encode_netstring(data: bytes) -> bytes:
    """``data`` as a netstring: ``b"5:hello,"``."""
    return b"%d:%s," % (len(data), data)


def parse_netstring(data: bytes) -> tuple[bytes, bytes]:
    """Split the netstring at the start of ``data`` from what follows it.

    Returns ``(payload, rest)``; raises :class:`ProtocolError` when ``data``
    does not start with a well-formed netstring.
    """
    length_text, colon, after = data.partition(b":")
    if not colon:
        raise ProtocolError(f"netstring has no ':' after its length: {data[:20]!r}")
    if not length_text.isdigit():  # bytes.isdigit: ASCII digits only
        raise ProtocolError(f"netstring length {length_text[:20]!r} is not a decimal number")
    if len(length_text) > MAX_LENGTH_DIGITS:
        raise ProtocolError(f"netstring length has {len(length_text)} digits, at most 10")
    if len(length_text) > 1 and length_text.startswith(b"0"):
        raise ProtocolError(f"netstring length {length_text!r} has a leading zero")
    length = int(length_text)
    if len(after) < length + 1:
        raise ProtocolError(f"netstring says {length} bytes but only {len(after)} follow")
    if after[length : length + 1] != b",":
        raise ProtocolError(f"netstring of {length} bytes does not end with ','")
    return after[:length], after[length + 1 :]


@dataclass(frozen=True)
class Request:
    """One message from Mongrel2: an HTTP request or a notice."""

    sender: bytes
    conn_id: bytes
    path: str
    headers: Mapping[str, Any]
    body: bytes

    @property
    def is_disconnect(self) -> bool:
        """Whether this is Mongrel2's notice that the client has gone."""
        if self.headers.get("METHOD") != "JSON":
            return False
        try:
            notice = json.loads(self.body)
        except ValueError as error:
            raise ProtocolError(f"JSON notice body is not JSON: {self.body[:40]!r}") from error
        return isinstance(notice, dict) and notice.get("type") == "disconnect"


def parse_request(message: bytes) -> Request:
    """The :class:`Request` in one message Mongrel2 has pushed."""
    fields = message.split(b" ", 3)
    if len(fields) < 4:
        raise ProtocolError(
            f"request has only {len(fields)} space-separated fields, "
            f"expected SENDER CONN_ID PATH NETSTRINGS: {message[:60]!r}"
        )
    sender, conn_id, path, rest = fields
    _check_conn_id(conn_id)
    headers_json, rest = parse_netstring(rest)
    body, rest = parse_netstring(rest)
    if rest:
        raise ProtocolError(f"{len(rest)} bytes after the body netstring: {rest[:20]!r}")
    try:
        headers = json.loads(headers_json)
    except ValueError as error:
        raise ProtocolError(
            f"headers are not JSON (is the handler's protocol 'json'?): {headers_json[:40]!r}"
        ) from error
    if not isinstance(headers, dict):
        raise ProtocolError(f"headers are JSON but not an object: {headers_json[:40]!r}")
    try:
        path_text = path.decode()
    except UnicodeDecodeError as error:
        raise ProtocolError(f"path is not UTF-8: {path[:40]!r}") from error
    return Request(sender, conn_id, path_text, headers, body)


def encode_request(request: Request) -> bytes:
    """The message Mongrel2 would push for ``request`` (the inverse of
    :func:`parse_request`, for tests and tools)."""
    headers = json.dumps(dict(request.headers)).encode()
    return b"%s %s %s %s%s" % (
        request.sender,
        request.conn_id,
        request.path.encode(),
        encode_netstring(headers),
        encode_netstring(request.body),
    )


def _check_conn_id(conn_id: bytes) -> None:
    if not conn_id.isdigit():
        raise ProtocolError(f"connection id {conn_id[:20]!r} is not a decimal number")


def reply_message(sender: bytes, conn_ids: Sequence[bytes], body: bytes) -> bytes:
    """The message that makes Mongrel2 write ``body`` to ``conn_ids``.

    An empty ``body`` closes those connections.
    """
    if not conn_ids:
        raise ProtocolError("a reply needs at least one connection id")
    for conn_id in conn_ids:
        _check_conn_id(conn_id)
    return b"%s %s %s" % (sender, encode_netstring(b" ".join(conn_ids)), body)


def http_response(
    body: bytes,
    *,
    status: int = 200,
    reason: str = "OK",
    content_type: str = "text/plain; charset=utf-8",
) -> bytes:
    """A complete HTTP/1.1 response with a ``Content-Length`` (keep-alive friendly)."""
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def http_stream_head(*, content_type: str = "text/plain; charset=utf-8") -> bytes:
    """The head of a chunked HTTP/1.1 response; :func:`http_chunk` the pieces."""
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()


def http_chunk(data: bytes) -> bytes:
    """One chunk of a chunked response; ``b""`` is the last one."""
    return b"%x\r\n%s\r\n" % (len(data), data)
