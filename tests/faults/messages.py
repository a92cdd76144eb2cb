"""The messages of the fault tests, and the ledger that checks them.

A message is four frames: ``[sender, seq, payload, checksum]`` -- who sent
it (a name unique per sending socket or peer incarnation), its sequence
number for that sender (8 bytes, big-endian, from 0), a payload, and a
BLAKE2b digest over the first three frames.  A receiver records every
message in a :class:`Ledger`, which raises at once on a torn message (a
frame missing, extra or altered), a duplicate or a reordering (a sequence
number not above the last one from that sender), and afterwards says
which messages are missing.

A ledger with ``ordered=False`` accepts a message that comes after a later
one of its sender (still never twice): across a connection that libzmq
dropped and made again, what the old connection had already handed to the
kernel may still arrive, after what the new one carried.
"""

from __future__ import annotations

import bisect
import hashlib
import os
from dataclasses import dataclass, field

FRAMES = 4


def checksum(sender: bytes, seq: bytes, payload: bytes) -> bytes:
    return hashlib.blake2b(b"%d:" % len(sender) + sender + seq + payload, digest_size=16).digest()


def make(sender: bytes, seq: int, size: int = 64) -> list[bytes]:
    """Message ``seq`` of ``sender`` with ``size`` random payload bytes."""
    number = seq.to_bytes(8, "big")
    payload = os.urandom(size)
    return [sender, number, payload, checksum(sender, number, payload)]


class TornMessage(AssertionError):
    pass


class Duplicate(AssertionError):
    pass


def parse(frames: list[bytes]) -> tuple[bytes, int]:
    """(sender, seq) of a whole message, or TornMessage."""
    if len(frames) != FRAMES:
        raise TornMessage(f"{len(frames)} frames, not {FRAMES}: {[f[:16] for f in frames]}")
    sender, number, payload, digest = frames
    if len(number) != 8 or checksum(sender, number, payload) != digest:
        raise TornMessage(f"checksum mismatch in a message of {sender!r}")
    return sender, int.from_bytes(number, "big")


@dataclass
class Ledger:
    """Everything one receiver got, per sender, checked as it arrives."""

    name: str = "receiver"
    ordered: bool = True
    received: dict[bytes, list[int]] = field(default_factory=dict)
    late: int = 0  # messages that came after a later one (ordered=False)
    _seen: dict[bytes, set[int]] = field(default_factory=dict)

    def record(self, frames: list[bytes]) -> tuple[bytes, int]:
        sender, seq = parse(frames)
        seqs = self.received.setdefault(sender, [])
        seen = self._seen.setdefault(sender, set())
        if seq in seen:
            raise Duplicate(f"{self.name}: duplicate {sender!r} #{seq}")
        if seqs and seq < seqs[-1]:
            if self.ordered:
                raise Duplicate(f"{self.name}: reordered {sender!r} #{seq} after #{seqs[-1]}")
            self.late += 1
            bisect.insort(seqs, seq)
        else:
            seqs.append(seq)
        seen.add(seq)
        return sender, seq

    def count(self, sender: bytes | None = None) -> int:
        if sender is None:
            return sum(len(seqs) for seqs in self.received.values())
        return len(self.received.get(sender, ()))

    def last(self, sender: bytes) -> int:
        seqs = self.received.get(sender)
        return seqs[-1] if seqs else -1

    def missing(self, sender: bytes, sent: int, first: int = 0) -> list[int]:
        """Of ``first`` .. ``sent - 1``, the sequence numbers not received."""
        got = self._seen.get(sender, set())
        return [n for n in range(first, sent) if n not in got]

    def assert_exactly_once(self, sender: bytes, sent: int, first: int = 0) -> None:
        """Messages ``first`` .. ``sent - 1`` of ``sender`` all arrived, once, in order."""
        seqs = [n for n in self.received.get(sender, []) if n >= first]
        extra = sorted(set(seqs) - set(range(first, sent)))
        assert seqs == list(range(first, sent)), (
            f"{self.name}: {sender!r} sent #{first}..#{sent - 1}; "
            f"missing {gaps(self.missing(sender, sent, first))}, extra {extra}"
        )


def gaps(numbers: list[int]) -> list[tuple[int, int]]:
    """``numbers`` (sorted) as inclusive runs: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs
