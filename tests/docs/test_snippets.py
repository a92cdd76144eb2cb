"""Every code block in README.md and docs/ runs, or says why it does not.

Each fenced block of README.md and docs/**/*.md is one test:

* a ``python`` block runs as a program of its own (a fresh interpreter,
  warnings as errors, in a temporary directory, with a timeout); it must
  exit with status 0;
* a ``sh`` block runs under ``bash -euo pipefail`` in a temporary
  directory, with this interpreter's ``bin`` (``trio-zmq``) first on PATH;
* a block right after an HTML comment line ``<!-- not-run: REASON -->`` is
  not run, and REASON must say why (a fragment of a program shown whole
  elsewhere, output, a command that needs a server, one another test runs);
  a ``python`` block marked so must still parse, as the body of an
  ``async def`` (fragments use ``await`` and ``async with``);
* a block right after ``<!-- output -->`` is what the block before it on
  the same page prints, and is compared with that block's output;
* any other block fails: a block nobody runs must say so.

MyST directives (```` ```{toctree} ````, ```` ```{eval-rst} ````) are markup,
not snippets, and are skipped.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import ROOT

#: The pages whose blocks are checked.
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
#: How long one snippet may run.
TIMEOUT = 30
RUNNABLE = {"python": "python", "py": "python", "sh": "sh", "bash": "sh"}

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
MARKER = re.compile(r"^<!--\s*(?P<kind>[\w-]+)(?::(?P<reason>.*?))?\s*-->\s*$")
MARKER_KINDS = ("not-run", "output")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: str
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    marker: str | None  # "not-run", "output" or None
    reason: str | None

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def blocks_of(text: str, page: str) -> list[Block]:
    """The fenced blocks of a Markdown page, with the marker line before each."""
    lines = text.splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if match is None or (match["fence"][0] == "`" and "`" in match["info"]):
            index += 1
            continue
        fence, indent = match["fence"], len(match["indent"])
        end = index + 1
        while end < len(lines) and not (
            lines[end].strip().startswith(fence) and lines[end].strip().rstrip(fence[0]) == ""
        ):
            end += 1
        body = "\n".join(line[indent:] for line in lines[index + 1 : end])
        marker = MARKER.match(lines[index - 1].strip()) if index else None
        if marker is not None and marker["kind"] not in MARKER_KINDS:
            marker = None  # marker_problems() reports it
        found.append(
            Block(
                page=page,
                line=index + 1,
                lang=match["info"].strip().split(" ")[0] if match["info"].strip() else "",
                code=body + "\n",
                marker=marker["kind"] if marker else None,
                reason=(marker["reason"] or "").strip() if marker else None,
            )
        )
        index = end + 1
    return found


def marker_problems(text: str, page: str) -> list[str]:
    """Marker comments that are malformed or stand before no block."""
    lines = text.splitlines()
    problems = []
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped.startswith("<!--") or not re.search(r"not.?run|output", stripped):
            continue
        match = MARKER.match(stripped)
        where = f"{page}:{number}"
        if match is None or match["kind"] not in MARKER_KINDS:
            problems.append(f"{where}: not a marker: {stripped}")
        elif number >= len(lines) or FENCE.match(lines[number]) is None:
            problems.append(f"{where}: a marker must be the line right before a fence")
        elif match["kind"] == "not-run" and not (match["reason"] or "").strip():
            problems.append(f"{where}: not-run needs a reason: <!-- not-run: why -->")
    return problems


def problem_of(block: Block) -> str | None:
    """Why a block can be neither run nor skipped, if it cannot."""
    if block.marker == "not-run":
        return None if block.reason else f"{block.id}: not-run needs a reason"
    if block.marker == "output" or block.lang in RUNNABLE or block.lang.startswith("{"):
        return None
    return (
        f"{block.id}: a {block.lang or 'plain'} block that nothing runs: run it, or mark it "
        "with <!-- not-run: REASON --> on the line before"
    )


def all_blocks() -> list[Block]:
    return [
        block
        for page in PAGES
        for block in blocks_of(page.read_text(), str(page.relative_to(ROOT)))
        if not block.lang.startswith("{")  # MyST directives
    ]


BLOCKS = all_blocks()


def run(block: Block, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if RUNNABLE[block.lang] == "python":
        command = [sys.executable, "-W", "error", "-c", block.code]
    else:
        command = ["bash", "-euo", "pipefail", "-c", block.code]
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def parses_as_a_fragment(code: str) -> None:
    """Raise SyntaxError unless ``code`` parses (as the body of an ``async def``)."""
    try:
        ast.parse(code)
    except SyntaxError:
        ast.parse("async def fragment():\n" + textwrap.indent(code, "    "))


@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_snippet(block: Block, tmp_path: Path) -> None:
    problem = problem_of(block)
    assert problem is None, problem
    if block.marker == "not-run":
        if RUNNABLE.get(block.lang) == "python":
            parses_as_a_fragment(block.code)
        return
    if block.marker == "output":
        previous = [b for b in BLOCKS if b.page == block.page and b.line < block.line][-1]
        assert previous.marker is None, f"{block.id}: <!-- output --> follows no run block"
        assert RUNNABLE.get(previous.lang) is not None, f"{block.id}: follows no run block"
        result = run(previous, tmp_path)
        assert result.stdout == block.code, f"{previous.id} printed:\n{result.stdout}"
        return
    result = run(block, tmp_path)
    assert result.returncode == 0, f"{block.id}:\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_markers_stand_before_blocks_and_give_reasons(page: Path) -> None:
    assert marker_problems(page.read_text(), str(page.relative_to(ROOT))) == []


def test_the_blocks_of_every_page_are_found() -> None:
    pages = {block.page for block in BLOCKS}
    assert {"README.md", "docs/tutorial/first-steps.md", "docs/cli.md"} <= pages
    assert sum(block.marker is None for block in BLOCKS) >= 12  # run, not only marked


PAGE = """\
Text.

```python
print("run")
```

<!-- output -->
```
run
```

<!-- not-run: a fragment -->
```python
await sock.send(b"x")
```

```
nobody runs this
```

<!-- not-run: -->
```sh
rm -rf /
```

<!-- not-run: stray, no block after it -->

<!-- notrun: misspelt -->
```sh
true
```
"""


def test_unmarked_and_unreasoned_blocks_fail() -> None:
    blocks = blocks_of(PAGE, "page.md")
    assert [(b.line, b.lang, b.marker) for b in blocks] == [
        (3, "python", None),
        (8, "", "output"),
        (13, "python", "not-run"),
        (17, "", None),
        (22, "sh", "not-run"),
        (29, "sh", None),
    ]
    assert [problem_of(b) for b in blocks][:3] == [None, None, None]
    assert "nothing runs" in str(problem_of(blocks[3]))
    assert problem_of(blocks[4]) == "page.md:22: not-run needs a reason"
    assert marker_problems(PAGE, "page.md") == [
        "page.md:21: not-run needs a reason: <!-- not-run: why -->",
        "page.md:26: a marker must be the line right before a fence",
        "page.md:28: not a marker: <!-- notrun: misspelt -->",
    ]
    parses_as_a_fragment(blocks[2].code)
    with pytest.raises(SyntaxError):
        parses_as_a_fragment("def broken(:\n")
