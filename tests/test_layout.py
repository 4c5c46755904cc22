"""The rooms and their one-way arrows, read from the sources: what may import what, and what ships.

    locales <- core <- survey <- db <- {research, conversation} <- bot (bot/__main__.py, the command line, on top)
                                  db <- migrations

Every import counts: at module level, inside functions, under `if TYPE_CHECKING`, relative, and
`importlib.import_module("...")` / `__import__("...")` with a constant name.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

LOWER: dict[str, frozenset[str]] = {
    "locales": frozenset(),
    "core": frozenset({"locales"}),
    "survey": frozenset({"locales", "core"}),
    "db": frozenset({"locales", "core", "survey"}),
    "research": frozenset({"locales", "core", "survey", "db"}),
    "conversation": frozenset({"locales", "core", "survey", "db"}),
    "bot": frozenset({"locales", "core", "survey", "db", "research", "conversation"}),
    "migrations": frozenset({"locales", "core", "survey", "db"}),
}
"""Each production room and the project rooms it may import (besides itself)."""
PRODUCTION = frozenset(LOWER)
DEVELOPMENT = frozenset({"devtools", "tests", "bench"})
PROJECT = PRODUCTION | DEVELOPMENT
COMMAND_LINE = "bot/__main__.py"
TELEGRAM = "telegram"


@dataclass(frozen=True)
class Import:
    """One imported module name, where it is imported and whether inside a function."""

    module: str
    path: str
    line: int
    in_function: bool

    @property
    def top(self) -> str:
        return self.module.split(".")[0]

    def __str__(self) -> str:
        where = "inside a function" if self.in_function else "at module level"
        return f"{self.path}:{self.line} imports {self.module} ({where})"


def _package(path: str) -> list[str]:
    """The package a module file belongs to, as name parts: bot/handlers.py -> ['bot']."""
    return path.removesuffix(".py").split("/")[:-1]


def _absolute(node: ast.ImportFrom, path: str) -> list[str]:
    """The names a `from ... import ...` brings in (`from a import b` -> a.b), relative ones resolved."""
    parts = [node.module] if node.module else []
    if node.level:
        package = _package(path)
        parts = package[: len(package) - node.level + 1] + parts
    return [".".join([*parts, alias.name]) if alias.name != "*" else ".".join(parts) for alias in node.names]


COMPUTED = "<computed>"
"""The module name of an import_module() / __import__() call whose argument is not a constant."""


def _dynamic(node: ast.Call) -> str | None:
    """The module `importlib.import_module(...)` or `__import__(...)` loads (COMPUTED if not a constant)."""
    func = node.func
    named = (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id in ("__import__", "import_module")
    )
    if not named:
        return None
    if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return COMPUTED


def imports_of(source: str, path: str) -> Iterator[Import]:
    """Every module the source of `path` (relative to the root, with '/') imports."""

    def walk(node: ast.AST, in_function: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                yield from (Import(a.name, path, child.lineno, inside) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                yield from (Import(m, path, child.lineno, inside) for m in _absolute(child, path))
            elif isinstance(child, ast.Call) and (module := _dynamic(child)) is not None:
                yield Import(module, path, child.lineno, inside)
            yield from walk(child, inside)

    yield from walk(ast.parse(source, filename=path), False)


def violation(found: Import) -> str | None:
    """Why this import breaks the layout, or None."""
    room = found.path.split("/")[0]
    target = found.top
    if found.module == COMPUTED:
        return f"{found}: a computed module name cannot be checked against the arrows"
    if target == TELEGRAM and room != "bot":
        return f"{found}: only bot/ may import the Telegram package"
    if target == "devtools":
        if found.path == COMMAND_LINE and found.in_function:
            return None  # the command line's lazy sandbox, chat and emulator: the one exception
        return f"{found}: production code never imports the development package (devtools/)"
    if target in DEVELOPMENT:
        return f"{found}: production code never imports {target}/"
    if f"{found.module}.".startswith("bot.__main__.") and found.path != COMMAND_LINE:
        return f"{found}: bot/__main__.py is the command line, the top: nothing imports it"
    if target in PRODUCTION and target != room and target not in LOWER[room]:
        return f"{found}: {room}/ may import only {', '.join(sorted(LOWER[room])) or 'no other room'}"
    return None


def production_files() -> list[Path]:
    return sorted(p for room in PRODUCTION for p in (ROOT / room).rglob("*.py"))


def layout_violations() -> list[str]:
    problems = []
    for file in production_files():
        path = file.relative_to(ROOT).as_posix()
        for found in imports_of(file.read_text(), path):
            if (problem := violation(found)) is not None:
                problems.append(problem)
    return problems


def test_every_room_has_its_modules() -> None:
    """The walk reads every room (a renamed or emptied room would make the arrows vacuous)."""
    rooms = {p.relative_to(ROOT).parts[0] for p in production_files()}
    assert rooms == PRODUCTION
    assert any("versions" in p.parts for p in production_files()), "migrations/versions/ is walked"


def test_the_arrows_go_one_way() -> None:
    """No production module imports a room above it, the Telegram package outside bot/, or devtools/."""
    problems = layout_violations()
    assert not problems, "\n".join(problems)


def test_only_the_command_line_reaches_the_development_package_lazily() -> None:
    lazy = [
        found
        for file in production_files()
        for found in imports_of(file.read_text(), file.relative_to(ROOT).as_posix())
        if found.top == "devtools"
    ]
    assert lazy, "bot/__main__.py starts the sandbox, the chat and the emulator from devtools/"
    assert {found.path for found in lazy} == {COMMAND_LINE}
    assert all(found.in_function for found in lazy)


@pytest.mark.parametrize(
    ("path", "source", "complaint"),
    [
        ("research/report.py", "from telegram import Update\n", "only bot/ may import the Telegram package"),
        ("migrations/env.py", "from telegram.ext import Application\n", "only bot/ may import the Telegram"),
        ("migrations/env.py", "def f():\n    from bot.app import build_application\n", "migrations/ may"),
        ("db/repo.py", "def f():\n    import research.report\n", "db/ may import only"),
        ("core/config.py", "from survey import model\n", "core/ may import only locales"),
        ("survey/flow.py", "from db.models import Response\n", "survey/ may import only"),
        ("research/report.py", "from conversation.turns import Turn\n", "research/ may import only"),
        ("conversation/turns.py", "from research import report\n", "conversation/ may import only"),
        ("conversation/turns.py", "from ..research import report\n", "conversation/ may import only"),
        ("bot/handlers.py", "from .. import devtools\n", "never imports the development package"),
        ("bot/handlers.py", "def f():\n    from devtools.emulator import core\n", "development package"),
        ("bot/__main__.py", "from devtools.sandbox.run import run_sandbox\n", "development package"),
        ("bot/__main__.py", "import tests.harness\n", "never imports tests/"),
        ("bot/app.py", "from bot.__main__ import main\n", "the command line, the top"),
        ("db/engine.py", "import importlib\nimportlib.import_module('bot.app')\n", "db/ may import only"),
        ("core/logs.py", "__import__('telegram')\n", "only bot/ may import the Telegram package"),
        (
            "bot/app.py",
            "import importlib\nimportlib.import_module('dev' + 'tools')\n",
            "computed module name",
        ),
        (
            "core/i18n.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from db.models import Base\n",
            "core/ may import only",
        ),
        ("survey/analysis.py", "class A:\n    def f(self):\n        import bench.faults\n", "bench/"),
    ],
)
def test_the_walk_catches_a_forbidden_import(path: str, source: str, complaint: str) -> None:
    """Each way of sneaking an import past the arrows is named, with the module and the import."""
    problems = [p for found in imports_of(source, path) if (p := violation(found)) is not None]
    assert len(problems) == 1 and complaint in problems[0] and problems[0].startswith(path), problems


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("bot/__main__.py", "def sandbox():\n    from devtools.sandbox.run import run_sandbox\n"),
        (
            "bot/researchers.py",
            "from bot import handlers\nfrom research import report\nfrom .context import C\n",
        ),
        ("migrations/env.py", "from db.models import Base\nfrom core.config import load_settings\n"),
        ("core/i18n.py", "import locales\nimport telegramme\n"),
    ],
)
def test_the_walk_lets_the_arrows_through(path: str, source: str) -> None:
    assert [p for found in imports_of(source, path) if (p := violation(found)) is not None] == []


def _pyproject_rooms() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {pattern.rstrip("*") for pattern in config["tool"]["setuptools"]["packages"]["find"]["include"]}


def _dockerfile_sources() -> list[str]:
    """The build context paths the Dockerfile's COPY lines take (not those from another stage)."""
    sources = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words and words[0].upper() in ("COPY", "ADD"):
            options = [w for w in words[1:] if w.startswith("--")]
            if not any(o.startswith("--from") for o in options):
                sources += [w.rstrip("/") for w in words[1:] if not w.startswith("--")][:-1]
    return sources


def test_every_top_level_package_is_production_or_development() -> None:
    """A new room has to be placed: shipped (and then walked above) or kept for development."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} | {"bench"}
    assert packages == PROJECT


def test_the_wheel_and_the_image_ship_the_production_rooms_only() -> None:
    """pyproject's packages and the Dockerfile's COPY lines name the same rooms; no development package."""
    sources = _dockerfile_sources()
    assert not [s for s in sources if re.search(r"[*?\[]", s) or s in (".", "./")], "copy named paths only"
    shipped = {s for s in sources if (ROOT / s / "__init__.py").exists()}
    assert not shipped & DEVELOPMENT, "the Dockerfile copies a development package"
    assert shipped == PRODUCTION, "the Dockerfile's COPY lines"
    assert _pyproject_rooms() == PRODUCTION, "pyproject.toml [tool.setuptools.packages.find] include"
    loose = [s for s in sources if s not in shipped and (ROOT / s).is_dir() and any((ROOT / s).rglob("*.py"))]
    assert loose == [], "no Python outside the rooms goes into the image"
