"""Sphinx extension: the API reference covers every public name, with a docstring.

Two parts:

* the ``pytest-fixtures`` directive documents the fixtures of a pytest plugin
  module (name, the fixtures it requests, its docstring) as ``fixture``
  objects, which ``{fixture}`` roles can link to;
* after the sources are read, :func:`find_problems` walks ``__all__`` of
  :data:`PUBLIC_MODULES`, the public methods and properties of their classes
  and the fixtures of :data:`PLUGIN_MODULE`, and the build warns (an error
  under ``sphinx-build -W``) for each name without a docstring or not
  documented in the API pages.

The checker itself needs no Sphinx (``tests/docs/test_public_api.py`` runs it
on modules made up to fail it); only :func:`setup` and the directive do.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

#: The modules whose ``__all__`` is the public API.
PUBLIC_MODULES = ("trio_zmq", "trio_zmq.testing", "trio_zmq.auth")
#: The pytest plugin whose fixtures are public.
PLUGIN_MODULE = "trio_zmq._pytest_plugin"


@dataclass(frozen=True)
class Documented:
    """What the API pages document: Python objects by full name, fixtures by name."""

    objects: frozenset[str]
    fixtures: frozenset[str]


def is_fixture(obj: object) -> bool:
    """Whether ``obj`` is what ``@pytest.fixture`` made of a function."""
    return type(obj).__name__ == "FixtureFunctionDefinition" or hasattr(
        obj, "_pytestfixturefunction"
    )


def fixture_function(obj: Any) -> Callable[..., Any]:
    """The function a ``@pytest.fixture`` decorated."""
    if hasattr(obj, "_get_wrapped_function"):
        wrapped: Callable[..., Any] = obj._get_wrapped_function()
    else:
        wrapped = inspect.unwrap(obj)
    return wrapped


def fixtures(module: types.ModuleType) -> dict[str, Callable[..., Any]]:
    """The public fixtures of a plugin module, by name, in definition order."""
    return {
        name: fixture_function(obj)
        for name, obj in vars(module).items()
        if not name.startswith("_") and is_fixture(obj)
    }


def attribute_docs(source: str) -> dict[str, str]:
    """Module-level names documented with ``#:`` comments or a string after them."""
    lines = source.splitlines()
    docs: dict[str, str] = {}
    body = ast.parse(source).body
    for index, node in enumerate(body):
        if isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets = [node.target.id]
        else:
            continue
        comments: list[str] = []
        line = node.lineno - 2
        while line >= 0 and lines[line].lstrip().startswith("#:"):
            comments.insert(0, lines[line].lstrip()[2:].strip())
            line -= 1
        text = " ".join(comments)
        following = body[index + 1] if index + 1 < len(body) else None
        if (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            text = following.value.value.strip()
        if text:
            docs.update(dict.fromkeys(targets, text))
    return docs


def package_attribute_docs(module: types.ModuleType) -> dict[str, str]:
    """:func:`attribute_docs` over a module and, for a package, its submodules."""
    found: list[types.ModuleType] = [module]
    path = getattr(module, "__path__", None)
    if path is not None:
        for info in pkgutil.walk_packages(path, module.__name__ + "."):
            if info.name.rpartition(".")[2].startswith("_") and info.name.endswith("__main__"):
                continue  # running it would run the command
            found.append(importlib.import_module(info.name))
    docs: dict[str, str] = {}
    for each in found:
        try:
            source = inspect.getsource(each)
        except (OSError, TypeError):
            continue
        for name, text in attribute_docs(source).items():
            docs.setdefault(name, text)
    return docs


def own_doc(obj: object) -> str | None:
    """The docstring written for ``obj`` itself (a class does not inherit one here)."""
    if isinstance(obj, property):
        obj = obj.fget
    elif isinstance(obj, (classmethod, staticmethod)):
        obj = obj.__func__
    doc = getattr(obj, "__doc__", None)
    return doc if isinstance(doc, str) and doc.strip() else None


def public_members(cls: type) -> Iterator[tuple[str, object]]:
    """The public methods and properties a class defines itself."""
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, (property, classmethod, staticmethod)) or inspect.isfunction(member):
            yield name, member


def find_problems(
    modules: Iterable[types.ModuleType],
    documented: Documented,
    plugin: types.ModuleType | None = None,
) -> list[str]:
    """Each public name without a docstring, or missing from the API pages.

    Args:
        modules: modules whose ``__all__`` lists their public names.
        documented: what the API pages document.
        plugin: a pytest plugin module whose fixtures are public.

    Returns:
        One message per problem, empty when everything is documented.
    """
    problems: list[str] = []
    for module in modules:
        names = getattr(module, "__all__", None)
        if names is None:
            problems.append(f"{module.__name__} has no __all__")
            continue
        data_docs: dict[str, str] | None = None
        for name in names:
            full = f"{module.__name__}.{name}"
            obj = getattr(module, name)
            if full not in documented.objects:
                problems.append(f"{full} is not in the API reference")
            if inspect.isclass(obj) or inspect.isroutine(obj):
                if own_doc(obj) is None:
                    problems.append(f"{full} has no docstring")
            else:
                if data_docs is None:
                    data_docs = package_attribute_docs(module)
                if name not in data_docs and name != "__version__":
                    problems.append(f"{full} has no #: doc comment")
            if inspect.isclass(obj):
                for member_name, member in public_members(obj):
                    member_full = f"{full}.{member_name}"
                    if own_doc(member) is None:
                        problems.append(f"{member_full} has no docstring")
                    elif member_full not in documented.objects:
                        problems.append(f"{member_full} is not in the API reference")
    if plugin is not None:
        for name, function in fixtures(plugin).items():
            if own_doc(function) is None:
                problems.append(f"fixture {name} ({plugin.__name__}) has no docstring")
            if name not in documented.fixtures:
                problems.append(f"fixture {name} ({plugin.__name__}) is not in the API reference")
    return problems


# --- Sphinx -------------------------------------------------------------------


def setup(app: Any) -> dict[str, Any]:
    """Register the ``fixture`` object type, the directive and the check."""
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx import addnodes
    from sphinx.util import logging
    from sphinx.util.docutils import SphinxDirective
    from sphinx.util.nodes import nested_parse_with_titles

    logger = logging.getLogger(__name__)

    class PytestFixtures(SphinxDirective):
        """``.. pytest-fixtures:: module``: each fixture, its requests and docstring."""

        required_arguments = 1

        def run(self) -> list[Any]:
            module = importlib.import_module(self.arguments[0])
            lines: list[str] = []
            for name, function in fixtures(module).items():
                requests = list(inspect.signature(function).parameters)
                lines += [f".. fixture:: {name}", ""]
                if requests:
                    listed = ", ".join(f":fixture:`{r}`" for r in requests)
                    lines += [f"   Requests {listed}.", ""]
                doc = inspect.getdoc(function) or ""
                lines += [f"   {line}" if line else "" for line in doc.splitlines()]
                lines.append("")
            node = nodes.section()
            node.document = self.state.document
            nested_parse_with_titles(self.state, StringList(lines, self.get_source_info()[0]), node)
            return list(node.children)

    def check(app: Any, env: Any) -> None:
        python = env.get_domain("py")
        std = env.get_domain("std")
        documented = Documented(
            objects=frozenset(python.objects),
            fixtures=frozenset(name for kind, name in std.objects if kind == "fixture"),
        )
        modules = [importlib.import_module(name) for name in PUBLIC_MODULES]
        plugin = importlib.import_module(PLUGIN_MODULE)
        for problem in find_problems(modules, documented, plugin):
            logger.warning("public API: %s", problem, type="public_api")

    def unlink_directories(app: Any, doctree: Any) -> None:
        # A Markdown link to a directory of the repository outside docs/
        # (``[examples/pirate/](../examples/pirate/)``) works on GitHub; the
        # built site has no such page, so the link text stays, unlinked.
        # (Links to files there become downloads.)
        for node in list(doctree.findall(addnodes.pending_xref)):
            target = node.get("reftarget", "")
            if node.get("reftype") == "myst" and target.startswith("../") and target.endswith("/"):
                node.replace_self(node.children)

    app.connect("doctree-read", unlink_directories)
    app.add_object_type(
        "fixture", "fixture", objname="pytest fixture", indextemplate="pair: %s; fixture"
    )
    app.add_directive("pytest-fixtures", PytestFixtures)
    app.connect("env-check-consistency", check)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
