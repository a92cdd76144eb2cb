"""The open-file limit, for workloads that open many sockets at once.

Every libzmq socket holds a file descriptor (its mailbox), and a TCP
connection another.  A set whose workloads open hundreds of sockets raises
the process's soft limit on open files as far as the hard limit allows,
before any socket or child process exists (children inherit it), and says
so; counts that still do not fit are lowered, and the note says that too.
"""

from __future__ import annotations

import resource
from collections.abc import Sequence

#: Descriptors for everything but the counted sockets (the loops, pipes...).
FD_RESERVE = 256


def fit_counts(
    counts: Sequence[int], fds_each: int, what: str, least: int = 1
) -> tuple[tuple[int, ...], list[str]]:
    """``counts`` of things taking ``fds_each`` descriptors each ("idle
    sockets"), fitted to the open-file limit, raised for the largest if needed.

    Returns the counts that fit (a count too large replaced by the largest
    that fits, at least ``least``) and the notes the report quotes: that the
    limit was raised, that counts were lowered.
    """
    if not counts:
        return (), []
    notes = []
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = fds_each * max(counts) + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        if raised > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            notes.append(
                f"note: raised the soft open-file limit from {soft} to {raised} "
                f"(hard limit {_limit(hard)}) for {max(counts)} {what}"
            )
            soft = raised
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return tuple(counts), notes
    fitting = max(least, (soft - FD_RESERVE) // fds_each)
    kept = sorted({min(count, fitting) for count in counts})
    notes.append(
        f"note: the open-file limit ({soft}, hard {_limit(hard)}) allows about {fitting} "
        f"{what}, so the counts are {kept} instead of {list(counts)}"
    )
    return tuple(kept), notes


def _limit(value: int) -> str:
    return "unlimited" if value == resource.RLIM_INFINITY else str(value)
