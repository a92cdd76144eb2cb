"""The release: an sdist that builds the wheel and runs the tests, a wheel
that ships the library and nothing else, metadata that says what is where.

Both are built for real, offline, through the build backend's own hooks as
a frontend (pip, ``python -m build``) calls them: the sdist from the
checkout, the wheel from the unpacked sdist.  ``nox -s release`` builds them
with ``python -m build`` and checks them with ``twine check``.

The benchmarks (``benchmarks/`` beside the package) run from a source
checkout: a wheel that carried them, or any bench/costs/engines module left
inside ``trio_zmq``, would ship half the repository's lines to every user.
"""

from __future__ import annotations

import email
import email.message
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import trio_zmq

from tests.helpers import ROOT

#: Module names that belong to the benchmarks, not to the library.
BENCHMARK_MODULE = re.compile(r"bench|costs|engines")
#: The sdist's folders: the library, and what its tests and docs need.
SDIST_FOLDERS = ("trio_zmq", "tests", "examples", "docs", "benchmarks")
SDIST_FILES = ("pyproject.toml", "README.md", "CHANGELOG.md", "noxfile.py")
#: pyproject.toml, read as text (Python 3.10 has no TOML parser).
PYPROJECT = (ROOT / "pyproject.toml").read_text()


@dataclass(frozen=True)
class Release:
    sdist: Path
    unpacked: Path  # the sdist's one top folder, unpacked
    wheel: Path


def python_in(folder: Path, *args: str) -> str:
    """Run this interpreter with ``args`` in ``folder``; what it printed.
    It must succeed (the end of its output says why not)."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def build(kind: str, source: Path, out: Path) -> Path:
    """Build the ``sdist`` or ``wheel`` of ``source`` into ``out`` with
    hatchling's PEP 517 hook, in a fresh interpreter run from ``source``."""
    hook = f"import sys, hatchling.build as backend; print(backend.build_{kind}(sys.argv[1]))"
    return out / python_in(source, "-c", hook, str(out)).split()[-1]


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    out = tmp_path_factory.mktemp("release")
    sdist = build("sdist", ROOT, out)
    with tarfile.open(sdist) as archive:
        archive.extractall(out / "unpacked", filter="data")
    [unpacked] = (out / "unpacked").iterdir()
    return Release(sdist, unpacked, build("wheel", unpacked, out))


def metadata(release: Release) -> email.message.Message:
    with zipfile.ZipFile(release.wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(name))


def test_the_wheel_holds_only_the_library(release: Release) -> None:
    with zipfile.ZipFile(release.wheel) as archive:
        names = archive.namelist()
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    tops = {name.split("/")[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"trio_zmq"}
    assert [name for name in names if name.startswith("benchmarks/")] == []
    library = [name for name in names if name.startswith("trio_zmq/")]
    assert [n for n in library if BENCHMARK_MODULE.search(n.rsplit("/", 1)[-1])] == []
    assert [n for n in library if "__pycache__" in n or n.endswith(".pyc")] == []
    assert "trio_zmq/py.typed" in names
    # The one command it installs runs a module the wheel has.
    assert "trio-zmq = trio_zmq._cli._main:main" in scripts
    assert "trio_zmq/_cli/_main.py" in names


def test_the_sdist_holds_every_tracked_file_the_tests_and_docs_need(release: Release) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to compare the sdist with")
    tracked = subprocess.run(
        ["git", "ls-files", "--", *SDIST_FOLDERS, *SDIST_FILES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split("\n")
    with tarfile.open(release.sdist) as archive:
        top = f"{release.unpacked.name}/"
        held = {member.name.removeprefix(top) for member in archive.getmembers()}
    missing = [name for name in tracked if name and name not in held]
    assert missing == []
    assert "PKG-INFO" in held
    assert [name for name in held if "__pycache__" in name or name.startswith("docs/_build")] == []


def test_the_tests_run_from_the_unpacked_sdist(release: Release) -> None:
    """Every test module imports from what the sdist holds, and a test file
    runs there against the sdist's own trio_zmq."""
    where = python_in(release.unpacked, "-c", "import trio_zmq; print(trio_zmq.__file__)")
    assert Path(where.strip()).parent == release.unpacked / "trio_zmq"
    pytest_run = ("-m", "pytest", "-p", "no:cacheprovider", "-q")
    collected = python_in(release.unpacked, *pytest_run, "--collect-only", "tests")
    assert re.search(r"^\d+ tests collected", collected, re.MULTILINE), collected
    ran = python_in(release.unpacked, *pytest_run, "tests/test_libzmq.py")
    assert re.search(r"^\d+ passed", ran, re.MULTILINE), ran


def test_the_version_is_written_once(release: Release) -> None:
    """``trio_zmq.__version__`` is the version: pyproject.toml has none of
    its own, the packaging reads it from trio_zmq/__init__.py."""
    assert re.search(r'^dynamic = \["version"\]', PYPROJECT, re.MULTILINE)
    assert not re.search(r"^version *=", PYPROJECT, re.MULTILINE)
    assert '[tool.hatch.version]\npath = "trio_zmq/__init__.py"\n' in PYPROJECT
    assert re.fullmatch(r"\d+\.\d+\.\d+", trio_zmq.__version__)
    assert metadata(release)["Version"] == trio_zmq.__version__
    with tarfile.open(release.sdist) as archive:
        member = archive.extractfile(f"{release.unpacked.name}/PKG-INFO")
        assert member is not None
        assert email.message_from_bytes(member.read())["Version"] == trio_zmq.__version__


def test_the_metadata_says_what_is_required_and_where_things_are(release: Release) -> None:
    meta = metadata(release)
    assert meta["Name"] == "trio-zmq"
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["License-Expression"] == "MIT"
    unconditional = [r for r in meta.get_all("Requires-Dist", []) if "extra ==" not in r]
    assert {re.split("[<>=]", r)[0] for r in unconditional} == {"anyio", "outcome", "pyzmq", "trio"}
    assert all(">=" in r for r in unconditional), unconditional
    urls = dict(entry.split(", ", 1) for entry in meta.get_all("Project-URL", []))
    assert set(urls) == {"Documentation", "Source", "Changelog"}
    source = urls["Source"]
    for label, path in (("Documentation", "docs"), ("Changelog", "CHANGELOG.md")):
        assert re.fullmatch(rf"{re.escape(source)}/(tree|blob)/main/{re.escape(path)}", urls[label])
        assert (ROOT / path).exists()


def test_the_build_backend_bound_is_the_one_the_tests_build_with() -> None:
    """The test extra names the build backend with the build system's own
    bound, so that ``nox -s tests_lowest`` builds the release with it."""
    requires = re.search(r'^requires = \["(hatchling>=[\d.]+)"\]$', PYPROJECT, re.MULTILINE)
    assert requires
    test_extra = re.search(r"^test = \[$(.*?)^\]$", PYPROJECT, re.MULTILINE | re.DOTALL)
    assert test_extra
    assert f'"{requires[1]}",' in test_extra[1]


def test_the_changelog_keeps_a_changelog() -> None:
    """CHANGELOG.md follows Keep a Changelog 1.1.0: ``[Unreleased]`` first,
    then the versions newest first down to 0.1.0, each dated (or marked
    Unreleased while it is being prepared), with the standard sections; the
    newest version is ``trio_zmq.__version__``."""
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n")
    assert "https://keepachangelog.com/en/1.1.0/" in text
    headings = re.findall(r"^(##+) (.*)$", text, re.MULTILINE)
    versions = [title for level, title in headings if level == "##"]
    assert versions[0] == "[Unreleased]"
    released = []
    for title in versions[1:]:
        match = re.fullmatch(r"\[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2}|Unreleased)", title)
        assert match, f"not a version heading: {title!r}"
        released.append(tuple(int(part) for part in match[1].split(".")))
    assert released == sorted(released, reverse=True)
    assert released[-1] == (0, 1, 0)
    assert ".".join(map(str, released[0])) == trio_zmq.__version__
    sections = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
    for version_text in re.split(r"^## .*$", text, flags=re.MULTILINE)[1:]:
        kinds = re.findall(r"^### (.*)$", version_text, re.MULTILINE)
        assert set(kinds) <= sections, kinds
        assert len(kinds) == len(set(kinds)), kinds
