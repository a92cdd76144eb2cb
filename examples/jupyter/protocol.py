"""The Jupyter wire protocol, written out for the examples.

A Jupyter message travels as one ZeroMQ multipart message::

    [identity, ..., b"<IDS|MSG>", signature, header, parent_header, metadata, content, buffer, ...]

The routing identities before the ``<IDS|MSG>`` delimiter are the ones a
ROUTER socket prepends (and PUB topics, on iopub); the four JSON dicts
after the signature are the message proper.  The signature is the hex
HMAC (SHA-256 by default) of those four frames, as sent, under the key of
the connection file: a peer that does not know the key cannot make a
kernel run code.  A message whose signature does not match is refused
with :class:`BadSignature`; any other breach of the format raises
:class:`MalformedMessage`, so both sides can tell a forgery from garbage.

A *connection file* (JSON) tells a client where a kernel listens: the
transport and ip, one port per channel (shell, iopub, stdin, control,
heartbeat), the key and the signature scheme.  :class:`ConnectionInfo`
reads and writes it.

This module is the protocol only: no sockets, no trio.  It is what
``jupyter_client.session.Session`` does, written here so that the examples
show trio_zmq speaking Jupyter rather than jupyter_client doing it; the
tests check it against jupyter_client and ipykernel, the real peers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

#: The protocol version these examples speak (and put in every header).
PROTOCOL_VERSION = "5.3"
#: The frame between the routing identities and the signature.
DELIMITER = b"<IDS|MSG>"
#: The channels of a kernel, as named in a connection file (``<name>_port``).
CHANNELS = ("shell", "iopub", "stdin", "control", "hb")

JSONDict = dict[str, Any]


class ProtocolError(ValueError):
    """A message or a connection file that breaks the Jupyter protocol."""


class MalformedMessage(ProtocolError):
    """Frames that are not a Jupyter message (delimiter, frame count, JSON, header)."""


class BadSignature(ProtocolError):
    """A message whose HMAC signature does not match: forged, or another key."""


@dataclass(frozen=True)
class Message:
    """One Jupyter message, as built by :meth:`Session.message` or received."""

    header: JSONDict
    parent_header: JSONDict
    metadata: JSONDict
    content: JSONDict
    #: The routing identities in front of the delimiter (a reply goes back to them).
    identities: tuple[bytes, ...] = ()
    buffers: tuple[bytes, ...] = ()

    @property
    def msg_type(self) -> str:
        return str(self.header["msg_type"])

    @property
    def msg_id(self) -> str:
        return str(self.header["msg_id"])

    @property
    def parent_id(self) -> str | None:
        """The ``msg_id`` of the request this message answers, if any."""
        parent_id = self.parent_header.get("msg_id")
        return None if parent_id is None else str(parent_id)


def utcnow() -> datetime:
    """Now, timezone-aware in UTC, as a header's ``date``."""
    return datetime.now(timezone.utc)


def _json_default(value: object) -> str:
    """Dates (a header's ``date``) as ISO 8601; jupyter_client writes UTC as ``Z``."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def pack(value: JSONDict) -> bytes:
    """One JSON frame (UTF-8), dates as ISO 8601 strings."""
    return json.dumps(value, default=_json_default, ensure_ascii=False).encode()


def parse_date(text: str) -> datetime:
    """An ISO 8601 date from a header (``Z`` accepted on Python 3.10 too)."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise MalformedMessage(f"the header's date {text!r} is not ISO 8601") from None


def unpack(frame: bytes, what: str) -> JSONDict:
    """One JSON frame as a dict, or :class:`MalformedMessage` naming ``what``."""
    try:
        value = json.loads(frame)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedMessage(f"the {what} frame is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise MalformedMessage(f"the {what} frame is not a JSON object: {frame[:80]!r}")
    return value


def _digest(signature_scheme: str) -> str:
    """The hashlib name in ``hmac-<name>``; anything else is a :class:`ProtocolError`."""
    prefix, _, name = signature_scheme.partition("-")
    if prefix != "hmac" or name not in hashlib.algorithms_available:
        raise ProtocolError(
            f"unsupported signature scheme {signature_scheme!r} (expected hmac-<hash>, "
            "such as hmac-sha256)"
        )
    return name


class Session:
    """Builds, signs, serializes and checks messages for one party.

    ``key`` is the connection file's key; an empty key means messages are
    neither signed nor checked (the protocol allows it; don't).
    """

    def __init__(
        self,
        key: bytes,
        *,
        signature_scheme: str = "hmac-sha256",
        username: str = "trio_zmq",
        session_id: str | None = None,
    ) -> None:
        self.key = key
        self.digest = _digest(signature_scheme)
        self.username = username
        self.session_id = session_id or uuid.uuid4().hex

    def sign(self, frames: Sequence[bytes]) -> bytes:
        """The hex HMAC of the header, parent header, metadata and content frames."""
        if not self.key:
            return b""
        mac = hmac.new(self.key, digestmod=self.digest)
        for frame in frames:
            mac.update(frame)
        return mac.hexdigest().encode()

    def message(
        self,
        msg_type: str,
        content: JSONDict | None = None,
        *,
        parent: Message | None = None,
        metadata: JSONDict | None = None,
    ) -> Message:
        """A new message of ``msg_type``; ``parent`` is the request it answers."""
        header = {
            "msg_id": uuid.uuid4().hex,
            "session": self.session_id,
            "username": self.username,
            "date": utcnow(),
            "msg_type": msg_type,
            "version": PROTOCOL_VERSION,
        }
        return Message(
            header=header,
            parent_header={} if parent is None else dict(parent.header),
            metadata={} if metadata is None else metadata,
            content={} if content is None else content,
        )

    def serialize(self, message: Message, identities: Sequence[bytes] = ()) -> list[bytes]:
        """The frames of ``message``, signed, behind ``identities``."""
        parts = [
            pack(message.header),
            pack(message.parent_header),
            pack(message.metadata),
            pack(message.content),
        ]
        return [*identities, DELIMITER, self.sign(parts), *parts, *message.buffers]

    def deserialize(self, frames: Sequence[bytes]) -> Message:
        """The message in ``frames``, after checking its signature.

        Raises :class:`MalformedMessage` for frames that are not a Jupyter
        message and :class:`BadSignature` for a signature that does not
        match (checked before any JSON is parsed).
        """
        frames = [bytes(frame) for frame in frames]
        try:
            split = frames.index(DELIMITER)
        except ValueError:
            raise MalformedMessage(
                f"no {DELIMITER!r} delimiter in a message of {len(frames)} frames"
            ) from None
        identities, rest = frames[:split], frames[split + 1 :]
        if len(rest) < 5:
            raise MalformedMessage(
                f"{len(rest)} frames after the delimiter; expected a signature, header, "
                "parent header, metadata and content"
            )
        signature, parts, buffers = rest[0], rest[1:5], rest[5:]
        if self.key and not hmac.compare_digest(signature, self.sign(parts)):
            raise BadSignature(f"bad HMAC signature {signature[:16]!r}... (wrong key, or tampered)")
        header, parent_header, metadata, content = (
            unpack(part, what)
            for part, what in zip(
                parts, ("header", "parent header", "metadata", "content"), strict=True
            )
        )
        for name in ("msg_id", "msg_type"):
            if not isinstance(header.get(name), str):
                raise MalformedMessage(f"the header has no {name} string: {header!r}")
        for dated in (header, parent_header):
            if isinstance(dated.get("date"), str):
                dated["date"] = parse_date(dated["date"])
        return Message(header, parent_header, metadata, content, tuple(identities), tuple(buffers))


@dataclass(frozen=True)
class ConnectionInfo:
    """Where a kernel listens and how its messages are signed: a connection file."""

    ip: str
    key: bytes
    ports: dict[str, int] = field(default_factory=dict)  # channel name -> port
    transport: str = "tcp"
    signature_scheme: str = "hmac-sha256"
    kernel_name: str = ""

    def __post_init__(self) -> None:
        if self.transport not in ("tcp", "ipc"):
            raise ProtocolError(f"unsupported transport {self.transport!r} (tcp or ipc)")
        missing = [channel for channel in CHANNELS if channel not in self.ports]
        if missing:
            raise ProtocolError(f"no port for the channel(s) {', '.join(missing)}")
        _digest(self.signature_scheme)

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> ConnectionInfo:
        """The connection file at ``path``; :class:`ProtocolError` says what is wrong."""
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict):
            raise ProtocolError(f"{path}: a connection file is a JSON object")
        try:
            ports = {channel: int(data[f"{channel}_port"]) for channel in CHANNELS}
            return cls(
                ip=str(data["ip"]),
                key=str(data["key"]).encode(),
                ports=ports,
                transport=str(data.get("transport", "tcp")),
                signature_scheme=str(data.get("signature_scheme", "hmac-sha256")),
                kernel_name=str(data.get("kernel_name", "")),
            )
        except KeyError as exc:
            raise ProtocolError(f"{path}: the connection file has no {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ProtocolError(f"{path}: {exc}") from None

    @classmethod
    def with_free_ports(cls, ip: str = "127.0.0.1", kernel_name: str = "") -> ConnectionInfo:
        """tcp on ``ip``, five ports free right now, and a random key.

        The ports are found by binding and closing plain sockets, as
        jupyter_client does: another program could take one before the
        kernel binds it, which the kernel would report as it starts.
        """
        probes = [socket.socket() for _ in CHANNELS]
        try:
            for probe in probes:
                probe.bind((ip, 0))
            ports = {
                channel: probe.getsockname()[1]
                for channel, probe in zip(CHANNELS, probes, strict=True)
            }
        finally:
            for probe in probes:
                probe.close()
        return cls(ip=ip, key=secrets.token_hex(32).encode(), ports=ports, kernel_name=kernel_name)

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the connection file, readable by its owner only (it holds the key)."""
        data: JSONDict = {f"{channel}_port": port for channel, port in self.ports.items()}
        data.update(
            ip=self.ip,
            key=self.key.decode(),
            transport=self.transport,
            signature_scheme=self.signature_scheme,
            kernel_name=self.kernel_name,
        )
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(descriptor, "w") as file:
            json.dump(data, file, indent=2)

    def address(self, channel: str) -> str:
        """The ZeroMQ endpoint of ``channel`` (``shell``, ``iopub``, ...)."""
        port = self.ports[channel]
        if self.transport == "ipc":
            return f"ipc://{self.ip}-{port}"
        return f"tcp://{self.ip}:{port}"

    def session(self, username: str) -> Session:
        """A :class:`Session` that signs with this connection's key and scheme."""
        return Session(self.key, signature_scheme=self.signature_scheme, username=username)
