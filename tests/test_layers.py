"""The package's layers: foundations below the engine, the engine below the shells, Ray only in
the shells. Every import statement counts, lazy ones inside functions too.

    python -m pytest tests/test_layers.py -q
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "rtl_sweep"

FOUNDATIONS = {"errors", "config", "methods", "store", "schema", "serialize"}
SHELLS = {"sweep", "cluster", "bench", "distributed", "results", "commands", "cli"}


def _layer(top: str) -> str:
    if top in FOUNDATIONS:
        return "foundation"
    return "shell" if top in SHELLS else "engine"


def _imports(path: Path) -> set[str]:
    """Top-level names imported: 'ray', 'torch', 'rtl_sweep.<first part>'."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names]
                                     if node.module == "rtl_sweep" else [])
        else:
            continue
        for n in names:
            parts = n.split(".")
            if parts[0] == "rtl_sweep" and len(parts) > 1:
                out.add("rtl_sweep." + parts[1])
            elif parts[0] != "rtl_sweep":
                out.add(parts[0])
    return out


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).with_suffix("")
        top = rel.parts[0]
        if top == "__init__":
            continue
        yield path, top


def test_every_module_has_a_layer():
    assert {top for _, top in _modules()} >= FOUNDATIONS | {"engine", "units", "loops", "tasks"}


def test_foundations_and_engine_import_no_shell_and_no_ray():
    wrong = []
    for path, top in _modules():
        layer = _layer(top)
        if layer == "shell":
            continue
        for name in _imports(path):
            if name == "ray":
                wrong.append(f"{path.relative_to(PKG)} imports ray")
            if name.startswith("rtl_sweep."):
                other = _layer(name.split(".")[1])
                if other == "shell" or (layer == "foundation" and other == "engine"):
                    wrong.append(f"{path.relative_to(PKG)} ({layer}) imports {name} ({other})")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_lazy_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from rtl_sweep.sweep.tuner import x\n    import ray\n")
    assert _imports(f) == {"rtl_sweep.sweep", "ray"}
