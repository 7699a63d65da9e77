"""The domain does no I/O and has no async (ARCHITECTURE.md §c.2): no ``async def``, no
``await``, no ``asyncio`` or ``sqlite3`` import in ``src/openucwa/domain``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "src" / "openucwa" / "domain"
FORBIDDEN_MODULES = frozenset({"asyncio", "sqlite3"})


def impurities(source: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.AsyncFunctionDef | ast.AsyncFor | ast.AsyncWith):
            found.append(f"{line}: async {type(node).__name__[5:].lower()}")
        elif isinstance(node, ast.Await):
            found.append(f"{line}: await")
        elif isinstance(node, ast.Import):
            found += [
                f"{line}: import {alias.name}"
                for alias in node.names
                if alias.name.split(".")[0] in FORBIDDEN_MODULES
            ]
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").split(".")[0] in FORBIDDEN_MODULES
        ):
            found.append(f"{line}: from {node.module} import")
    return found


def domain_files() -> list[Path]:
    files = sorted(DOMAIN.glob("*.py"))
    assert len(files) >= 5, f"no domain modules found under {DOMAIN}"
    return files


@pytest.mark.parametrize("path", domain_files(), ids=lambda p: p.name)
def test_domain_module_is_pure(path: Path) -> None:
    assert impurities(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "async def f():\n    pass",
        "async def f():\n    await g()",
        "import asyncio",
        "import os, sqlite3",
        "import sqlite3 as db",
        "from asyncio import sleep",
        "from sqlite3.dbapi2 import connect",
        "def f():\n    import asyncio",
        "class C:\n    async def m(self):\n        async for x in y:\n            pass",
    ],
)
def test_the_scanner_catches_impurity(source: str) -> None:
    assert impurities(source)


def test_the_scanner_ignores_words_in_text() -> None:
    assert impurities('"""We never await or import asyncio here."""\nx = "async def"') == []
