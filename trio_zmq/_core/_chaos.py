"""Test-only switches read by the engine and the socket layer.

Three kinds of switch live here, all off by default:

* :data:`variant` selects a *deliberately broken* engine.  The property
  suite runs against each broken variant and must find a counterexample:
  a suite that passes against a broken engine proves nothing.
* :data:`source` is an optional :class:`ChaosSource` that injects
  adversarial scheduling (spurious fd wake-ups, forced EAGAIN on the first
  non-blocking attempt, extra checkpoints).  ``trio_zmq.testing`` drives it
  from hypothesis, so a failing schedule shrinks and prints.
* :data:`force_anyio` makes trio tasks take the engine's anyio path, so
  that the tests and ``trio-zmq engines`` can run it on trio.

:data:`quiet` is True while all of them are off.  It is the only switch
the socket layer's hot paths read (one module-global read per call); set
the switches through :func:`set_source`, :func:`set_force_anyio` and
:data:`variant`'s attributes, which keep it up to date.

Nothing in here changes behaviour unless a test turns it on.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ._backend import Backend


@dataclasses.dataclass
class BrokenVariant:
    """Each flag breaks one promise of the engine (for test power only)."""

    #: Do not re-read ZMQ_EVENTS after the library's own operations.
    skip_reprobe: bool = False
    #: Wake only one parked waiter per serve, however many could proceed.
    wake_one: bool = False
    #: Do not hand the fd over when the watcher leaves.
    no_handover: bool = False
    #: A cancellable checkpoint after a successful receive.
    checkpoint_after_recv: bool = False
    #: Do not call notify_closing when the socket is closed.
    no_notify_closing: bool = False
    #: Newcomers try the operation even while others are parked.
    newcomer_overtakes: bool = False
    #: (anyio path) A task woken to serve itself but cancelled before it
    #: ran does not pass the wake-up on.
    no_wake_passon: bool = False

    def names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name)]

    def __setattr__(self, name: str, value: bool) -> None:
        object.__setattr__(self, name, value)
        _refresh()


class ChaosSource(Protocol):
    """Decides, at each decision point, whether to inject an adversity."""

    def spurious_wakeup(self) -> bool:
        """Should the fd watcher wake up once without a reason?"""

    def force_eagain(self) -> bool:
        """Should this non-blocking attempt pretend the socket was not ready?"""

    def extra_checkpoint(self) -> bool:
        """Should this operation yield to the scheduler once more first?"""


source: ChaosSource | None = None
force_anyio = False
#: True while no switch is on: the hot paths may skip every check above.
quiet = True


def _refresh() -> None:
    global quiet
    live = globals().get("variant")  # None while the first one is built
    quiet = source is None and not force_anyio and not (live is not None and live.names())


variant = BrokenVariant()


def set_source(new: ChaosSource | None) -> None:
    global source
    source = new
    _refresh()


def set_force_anyio(on: bool) -> None:
    """Make trio tasks use the engine's anyio path (tests, benchmarks)."""
    global force_anyio
    force_anyio = on
    _refresh()


async def maybe_spurious_wakeup(backend: Backend) -> bool:
    """Return True (after a checkpoint) if chaos asks for a spurious wakeup."""
    if source is not None and source.spurious_wakeup():
        await backend.checkpoint()
        return True
    return False


async def maybe_extra_checkpoint(backend: Backend) -> None:
    if source is not None and source.extra_checkpoint():
        await backend.checkpoint()


def forced_eagain() -> bool:
    return source is not None and source.force_eagain()
