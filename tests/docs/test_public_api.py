"""The docs build's check that every public name is documented (docs/_ext/public_api.py).

The checker needs no Sphinx: here it runs on modules written to fail it, and
on the real package for the docstrings (whether each name is also on an API
page needs the built pages: ``nox -s docs`` checks that).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT


def load(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


public_api = load(ROOT / "docs" / "_ext" / "public_api.py", "public_api")

FAKE_API = '''
"""A public module with gaps."""

import pytest

__all__ = ["Documented", "Undocumented", "documented", "undocumented", "LIMIT", "BARE"]

#: How many at most.
LIMIT = 3
BARE = 4


class Documented:
    """Has a docstring."""

    def method(self) -> None:
        """So does this."""

    def bare_method(self) -> None:
        pass

    @property
    def bare_property(self) -> int:
        return 1

    def _private(self) -> None:
        pass


class Undocumented:
    pass


def documented() -> None:
    """Has one."""


def undocumented() -> None:
    pass


@pytest.fixture
def good_fixture() -> int:
    """A fixture with a docstring."""
    return 1


@pytest.fixture
def bare_fixture() -> int:
    return 2
'''


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[types.ModuleType]:
    path = tmp_path / "fake_api.py"
    path.write_text(textwrap.dedent(FAKE_API))
    try:
        yield load(path, "fake_api")
    finally:
        sys.modules.pop("fake_api", None)


def everything(module: types.ModuleType) -> Any:
    """A Documented that lists every public name of ``module`` (and its members)."""
    names = {f"{module.__name__}.{name}" for name in module.__all__}
    for name in module.__all__:
        obj = getattr(module, name)
        if isinstance(obj, type):
            names |= {f"{module.__name__}.{name}.{m}" for m, _ in public_api.public_members(obj)}
    return public_api.Documented(
        objects=frozenset(names), fixtures=frozenset(public_api.fixtures(module))
    )


def test_undocumented_names_fail_the_check(fake: types.ModuleType) -> None:
    problems = public_api.find_problems([fake], everything(fake), plugin=fake)
    assert sorted(problems) == [
        "fake_api.BARE has no #: doc comment",
        "fake_api.Documented.bare_method has no docstring",
        "fake_api.Documented.bare_property has no docstring",
        "fake_api.Undocumented has no docstring",
        "fake_api.undocumented has no docstring",
        "fixture bare_fixture (fake_api) has no docstring",
    ]


def test_names_missing_from_the_pages_fail_the_check(fake: types.ModuleType) -> None:
    listed = everything(fake)
    partial = public_api.Documented(
        objects=listed.objects - {"fake_api.documented", "fake_api.Documented.method"},
        fixtures=listed.fixtures - {"good_fixture"},
    )
    problems = set(public_api.find_problems([fake], partial, plugin=fake))
    missing = {p for p in problems if "not in the API reference" in p}
    assert missing == {
        "fake_api.documented is not in the API reference",
        "fake_api.Documented.method is not in the API reference",
        "fixture good_fixture (fake_api) is not in the API reference",
    }


def test_a_module_without_all_fails_the_check() -> None:
    bare = types.ModuleType("bare_module")
    nothing = public_api.Documented(objects=frozenset(), fixtures=frozenset())
    assert public_api.find_problems([bare], nothing) == ["bare_module has no __all__"]


def test_attribute_docs_reads_comments_and_strings() -> None:
    source = textwrap.dedent(
        '''
        #: One line
        #: and another.
        A = 1
        B: int = 2
        """B's docstring."""
        C = 3
        '''
    )
    assert public_api.attribute_docs(source) == {
        "A": "One line and another.",
        "B": "B's docstring.",
    }


def test_every_public_name_of_trio_zmq_has_a_docstring() -> None:
    modules = [importlib.import_module(name) for name in public_api.PUBLIC_MODULES]
    plugin = importlib.import_module(public_api.PLUGIN_MODULE)
    listed = public_api.Documented(
        objects=frozenset().union(*(everything(m).objects for m in modules)),
        fixtures=frozenset(public_api.fixtures(plugin)),
    )
    assert public_api.find_problems(modules, listed, plugin) == []
    assert set(listed.fixtures) == {
        "zmq_context",
        "zmq_ipc_dir",
        "zmq_socket_pair",
        "zmq_faulty_link",
    }
