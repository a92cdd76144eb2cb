"""Progress lines: every benchmark reports its long work on stderr, so that
the report on stdout stays clean (and can be redirected to a file)."""

from __future__ import annotations

import sys


def progress(text: str) -> None:
    """Print one line of progress on stderr, at once."""
    print(text, file=sys.stderr, flush=True)
