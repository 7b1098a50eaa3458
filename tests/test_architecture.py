"""The shape of the package, read from the source with the standard library's ast (nothing is imported).

Layers, lowest first. A module may import its own layer's modules (without a cycle) and any lower layer, never a
higher one. Top-level modules not named in EDGE are the shared leaf modules (config, errors, records, ...).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "helpers"
LAYERS = ("<leaf>", "data", "modeling", "evaluation", "reporting", "app", "<edge>")
EDGE = {"cli", "bench"}  # top-level entry points: they may import anything
MAX_LINES = 550


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return LAYERS.index("<edge>")  # the package itself
    if len(parts) == 2 and parts[1] not in {"data", "modeling", "evaluation", "reporting", "app"}:
        return LAYERS.index("<edge>") if parts[1] in EDGE else LAYERS.index("<leaf>")
    return LAYERS.index(parts[1])


def _resolve(module: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(mods: dict[str, Path]) -> list[tuple[str, str, str, int]]:
    """(importer, imported module, imported name or '', line) for every import of our own package."""
    out = []
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out += [(mod, a.name, "", node.lineno) for a in node.names if a.name.split(".")[0] == "helpers"]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(mod, path.name == "__init__.py", node)
                if target.split(".")[0] != "helpers":
                    continue
                for a in node.names:
                    if f"{target}.{a.name}" in mods:  # `from helpers.data import split`: the module itself
                        out.append((mod, f"{target}.{a.name}", "", node.lineno))
                    else:
                        out.append((mod, target, a.name, node.lineno))
    return out


MODS = _modules()
EDGES = imports(MODS)


def test_the_walk_sees_the_package():
    # guards the other tests against passing on an empty graph
    assert {"helpers.config", "helpers.cli", "helpers.data.split", "helpers.modeling.train",
            "helpers.evaluation.evaluate", "helpers.reporting.model_card", "helpers.app.dashboard"} <= set(MODS)
    assert len(EDGES) > 100
    assert layer("helpers.config") < layer("helpers.data.split") < layer("helpers.modeling.train") \
        < layer("helpers.evaluation.evaluate") < layer("helpers.reporting.plots") < layer("helpers.app.dashboard") \
        < layer("helpers.cli")


def test_no_upward_import():
    bad = [f"{a} (line {ln}) imports {b}" for a, b, _, ln in EDGES
           if b in MODS and layer(b) > layer(a)]
    assert not bad, "imports must flow down the layers " + " > ".join(reversed(LAYERS)) + ":\n" + "\n".join(bad)


def test_no_private_name_imported_from_another_module():
    bad = [f"{a} (line {ln}) imports {b}.{name}" for a, b, name, ln in EDGES
           if name.startswith("_") and b != a]
    assert not bad, "\n".join(bad)


def test_no_import_cycle():
    graph: dict[str, set[str]] = {m: set() for m in MODS}
    for a, b, _, _ in EDGES:
        if b in MODS and b != a and not MODS[b].name == "__init__.py":
            graph[a].add(b)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(n):] + [n]))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_modules_stay_small():
    big = {m: n for m, p in MODS.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines (split them by job): {big}"


def test_the_checks_catch_what_they_look_for(tmp_path):
    # the same walk on a made-up package with one upward import, one private import and one cycle
    global PKG
    pkg = tmp_path / "helpers"
    (pkg / "data").mkdir(parents=True)
    (pkg / "modeling").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "data" / "__init__.py").write_text("")
    (pkg / "modeling" / "__init__.py").write_text("")
    (pkg / "data" / "a.py").write_text("from ..modeling import b\n")
    (pkg / "modeling" / "b.py").write_text("from ..data.a import _x\nfrom . import c\n")
    (pkg / "modeling" / "c.py").write_text("from .b import y\n")
    saved, PKG = PKG, pkg
    try:
        mods = _modules()
        edges = imports(mods)
    finally:
        PKG = saved
    assert ("helpers.data.a", "helpers.modeling.b", "", 1) in edges
    assert any(b == "helpers.data.a" and n == "_x" for _, b, n, _ in edges)
    assert layer("helpers.modeling.b") > layer("helpers.data.a")
    assert ("helpers.modeling.c", "helpers.modeling.b", "y", 1) in edges
    assert ("helpers.modeling.b", "helpers.modeling.c", "", 2) in edges


def test_every_cli_verb_names_a_function_that_exists():
    # cli.py dispatches by "module:function" strings; a module that moved must not leave a verb pointing nowhere
    import argparse
    import importlib

    from helpers.cli import _parser

    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = []
    for verb, parser in sub.choices.items():
        module, func = parser.get_default("target").split(":")
        if not callable(getattr(importlib.import_module(module), func, None)):
            missing.append(f"{verb} -> {module}:{func}")
    assert len(sub.choices) >= 14 and not missing, missing
