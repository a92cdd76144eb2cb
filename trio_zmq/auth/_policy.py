"""Who gets in: the rules an :class:`~trio_zmq.auth.Authenticator` applies.

The rules are pyzmq's (``zmq/auth/base.py``, ``handle_zap_message``), with
their status texts, so that logs and monitors read the same:

1. The address screen.  With an allow list, an address not on it is refused
   ("Address not allowed"); with a deny list, an address on it is refused
   ("Address denied").  Passing the screen does not excuse PLAIN or CURVE
   clients from their own checks.
2. NULL: let in whoever passed the screen (user id "anonymous").
3. PLAIN: the user name and password must match the domain's table.
4. CURVE: the client's public key must be acceptable to the domain's CURVE
   policy: any key (:data:`CURVE_ALLOW_ANY`), a key of a certificate
   directory, or a credentials provider's ``callback``, which may be a
   coroutine function: it is awaited.

An empty ZAP domain means ``"*"``; a domain with no table or policy of its
own is refused ("Invalid domain" for PLAIN, "Unknown domain" for CURVE).

Where this differs from pyzmq, it is on purpose:

* the CURVE policy is per domain.  pyzmq keeps one ``allow_any`` flag for
  every domain and consults certificates only while no callback is
  configured for *any* domain; here ``configure_curve(domain=...)`` and
  ``configure_curve_callback(domain=...)`` set that domain's policy, the
  last call winning, and leave the other domains alone;
* GSSAPI and unknown mechanisms are refused ("Unsupported mechanism");
  pyzmq lets GSSAPI through unchecked;
* a CURVE key that is not 32 bytes is refused ("Invalid credentials")
  instead of raising inside the handler;
* passwords are compared in constant time.
"""

from __future__ import annotations

import dataclasses
import hmac
import inspect
from collections.abc import Awaitable, Callable
from typing import Final, Protocol, TypeAlias, final

from zmq.utils import z85

from ._zap import AUTHENTICATION_FAILURE, SUCCESS, Request

#: The ``location`` of :meth:`Authenticator.configure_curve` that lets any
#: CURVE client in (encryption without authentication); the value of
#: ``zmq.auth.CURVE_ALLOW_ANY``.
CURVE_ALLOW_ANY: Final = "*"

_CURVE_KEY_BYTES: Final = 32


class CredentialsProvider(Protocol):
    """What :meth:`Authenticator.configure_curve_callback` takes: an object
    with a ``callback`` method, as in pyzmq.

    ``callback(domain, client_public_key)`` gets the ZAP domain (``"*"`` for
    none) and the client's public key, Z85-encoded (40 bytes), and returns
    whether to let the client in -- or an awaitable of that: define it with
    ``async def`` and the authenticator awaits it, in a task of its own.
    """

    def callback(self, domain: str, client_public_key: bytes) -> bool | Awaitable[bool]:
        """Whether the client with this key may connect in this domain."""
        ...


@final
class _AllowAny:
    __slots__ = ()

    def __repr__(self) -> str:
        return "CURVE_ALLOW_ANY"


ALLOW_ANY: Final = _AllowAny()

#: A domain's CURVE policy: any key, these Z85-encoded keys, or ask a provider.
CurvePolicy: TypeAlias = "_AllowAny | frozenset[bytes] | CredentialsProvider"


@final
@dataclasses.dataclass(frozen=True)
class Decision:
    """The answer to one request: RFC 27's status code and text, and the
    user id that libzmq attaches to the client's messages ("User-Id")."""

    status_code: int
    status_text: str
    user_id: str = ""


def _refuse(reason: str) -> Decision:
    return Decision(AUTHENTICATION_FAILURE, reason)


_INVALID_CREDENTIALS: Final = _refuse("Invalid credentials")


def z85_user_id(client_public_key: bytes) -> str:
    """The default CURVE user id: the client's public key, Z85-encoded (as pyzmq)."""
    return z85.encode(client_public_key).decode("ascii")


@final
class Policy:
    """The configuration of an authenticator, and :meth:`decide`."""

    __slots__ = ("allowed", "curve", "curve_user_id", "denied", "encoding", "passwords")

    def __init__(self, encoding: str, curve_user_id: Callable[[bytes], str]) -> None:
        self.encoding = encoding
        self.curve_user_id = curve_user_id
        self.allowed: set[str] = set()
        self.denied: set[str] = set()
        #: domain -> {user name: password}
        self.passwords: dict[str, dict[str, str]] = {}
        #: domain -> CURVE policy
        self.curve: dict[str, CurvePolicy] = {}

    def _text(self, frame: bytes) -> str:
        return frame.decode(self.encoding, "replace")

    def screen(self, address: str) -> Decision | None:
        """Step 1: a refusal for ``address``, or None if it may go on."""
        if self.allowed and address not in self.allowed:
            return _refuse("Address not allowed")
        if self.denied and address in self.denied:
            return _refuse("Address denied")
        return None

    async def decide(self, request: Request) -> Decision:
        """What to answer ``request``; awaits a CURVE credentials callback."""
        refusal = self.screen(self._text(request.address))
        if refusal is not None:
            return refusal
        domain = self._text(request.domain) or "*"
        mechanism = request.mechanism
        if mechanism == b"NULL":
            return Decision(SUCCESS, "OK", "anonymous")
        if mechanism == b"PLAIN":
            return self._plain(domain, request.credentials)
        if mechanism == b"CURVE":
            return await self._curve(domain, request.credentials)
        return _refuse("Unsupported mechanism")

    def _plain(self, domain: str, credentials: tuple[bytes, ...]) -> Decision:
        if len(credentials) != 2:
            return _INVALID_CREDENTIALS
        username, password = (self._text(frame) for frame in credentials)
        if not self.passwords:
            return _refuse("No passwords defined")
        users = self.passwords.get(domain)
        if users is None:
            return _refuse("Invalid domain")
        expected = users.get(username)
        if expected is None:
            return _refuse("Invalid username")
        if not hmac.compare_digest(expected.encode(), password.encode()):
            return _refuse("Invalid password")
        return Decision(SUCCESS, "OK", username)

    async def _curve(self, domain: str, credentials: tuple[bytes, ...]) -> Decision:
        if len(credentials) != 1 or len(credentials[0]) != _CURVE_KEY_BYTES:
            return _INVALID_CREDENTIALS
        key = credentials[0]
        policy = self.curve.get(domain)
        if policy is None:
            return _refuse("Unknown domain")
        if isinstance(policy, _AllowAny):
            allowed: object = True
        elif isinstance(policy, frozenset):
            allowed = z85.encode(key) in policy
        else:
            allowed = policy.callback(domain, z85.encode(key))
            if inspect.isawaitable(allowed):
                allowed = await allowed
        if not allowed:
            return _refuse("Unknown key")
        return Decision(SUCCESS, "OK", self.curve_user_id(key))
