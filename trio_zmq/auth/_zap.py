"""The ZAP wire protocol (ZeroMQ RFC 27), as a ROUTER socket sees it.

libzmq's side of ZAP is a REQ-style client inside each session that needs a
decision: it connects a pipe of its own to ``inproc://zeromq.zap.01`` on the
socket's context and sends one request, an empty delimiter frame followed by

    version ("1.0"), request id, domain, address, routing id, mechanism,
    credentials (0, 1 or 2 frames, by mechanism)

and waits for one reply: the delimiter, then

    version, request id, status code ("200", "300", "400", "500"),
    status text, user id, metadata (ZMTP property encoding)

A ROUTER socket prefixes what it receives with the routing id of the pipe it
came from, and routes a reply by the same prefix, so the handler keeps the
envelope (everything up to and including the delimiter) and sends it back in
front of the reply.  Each session has a pipe of its own, so replies may go out
in any order: a slow decision for one client holds up nobody else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Final, final

#: Where libzmq looks for the ZAP handler of a context.
ZAP_ENDPOINT: Final = "inproc://zeromq.zap.01"
#: The only version of the protocol.
VERSION: Final = b"1.0"

#: Status codes of RFC 27.
SUCCESS: Final = 200
TEMPORARY_ERROR: Final = 300
AUTHENTICATION_FAILURE: Final = 400
INTERNAL_ERROR: Final = 500
_STATUS_CODES: Final = frozenset({SUCCESS, TEMPORARY_ERROR, AUTHENTICATION_FAILURE, INTERNAL_ERROR})

#: Frames of a request after the envelope, before the credentials.
_REQUEST_HEAD: Final = 6


@final
@dataclasses.dataclass(frozen=True)
class Request:
    """One ZAP request, split into its frames.

    ``envelope`` is what the ROUTER socket put in front of the request plus
    the empty delimiter; a reply must start with it.
    """

    envelope: tuple[bytes, ...]
    version: bytes
    request_id: bytes
    domain: bytes
    address: bytes
    routing_id: bytes
    mechanism: bytes
    credentials: tuple[bytes, ...]


@final
class MalformedRequest(Exception):
    """A message on the ZAP socket that is not a valid request.

    ``envelope`` and ``request_id`` are set when there is enough of the
    message to address a reply (RFC 27: status 400), else ``None``.
    """

    def __init__(
        self, reason: str, envelope: tuple[bytes, ...] | None, request_id: bytes | None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.envelope = envelope
        self.request_id = request_id


def parse_request(frames: Sequence[bytes]) -> Request:
    """Split a message received on the ROUTER socket into a :class:`Request`.

    Raises:
      MalformedRequest: no delimiter, too few frames or another version.
    """
    try:
        delimiter = frames.index(b"")
    except ValueError:
        raise MalformedRequest("no envelope delimiter", None, None) from None
    envelope = tuple(frames[: delimiter + 1])
    body = frames[delimiter + 1 :]
    if len(body) < _REQUEST_HEAD:
        if len(body) < 2:
            raise MalformedRequest("Not enough frames", None, None)
        raise MalformedRequest("Not enough frames", envelope, body[1])
    version, request_id, domain, address, routing_id, mechanism = body[:_REQUEST_HEAD]
    if version != VERSION:
        raise MalformedRequest("Invalid version", envelope, request_id)
    return Request(
        envelope=envelope,
        version=version,
        request_id=request_id,
        domain=domain,
        address=address,
        routing_id=routing_id,
        mechanism=mechanism,
        credentials=tuple(body[_REQUEST_HEAD:]),
    )


def reply_frames(
    envelope: Sequence[bytes],
    request_id: bytes,
    status_code: int,
    status_text: str,
    user_id: bytes = b"",
    metadata: bytes = b"",
) -> list[bytes]:
    """The frames of a reply to the request with ``envelope`` and ``request_id``.

    Raises:
      ValueError: ``status_code`` is not one of RFC 27's, or the status text
        is longer than 255 bytes (libzmq's limit).
    """
    if status_code not in _STATUS_CODES:
        codes = sorted(_STATUS_CODES)
        raise ValueError(f"ZAP status code must be one of {codes}, not {status_code!r}")
    text = status_text.encode("utf-8")
    if len(text) > 255:
        raise ValueError(f"ZAP status text is longer than 255 bytes: {status_text!r}")
    if status_code != SUCCESS:
        user_id = b""
    return [
        *envelope,
        VERSION,
        request_id,
        str(status_code).encode("ascii"),
        text,
        user_id,
        metadata,
    ]


def frame_sizes(frames: Sequence[bytes]) -> str:
    """The sizes of ``frames``, comma-separated: what a log may say of a
    message that might hold credentials."""
    return ", ".join(str(len(frame)) for frame in frames)
