"""The package's layers: foundations below the engine, the engine below the shells, Ray only in
the shells, no import circle, and no module importing the package root. Every import statement
counts, lazy ones inside functions and `if TYPE_CHECKING:` ones too, and so does a registry's
"rtl_sweep.x" string in a module that imports by name (importlib.import_module).

    python -m pytest tests/test_layers.py -q
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "rtl_sweep"

FOUNDATIONS = {"errors", "config", "methods", "store", "schema", "serialize", "text", "net", "version"}
SHELLS = {"sweep", "cluster", "bench", "distributed", "results", "commands", "cli"}
RANK = {"foundation": 0, "engine": 1, "shell": 2}
_REGISTRY = re.compile(r"[a-z_]+(\.\w+)+(:\w+)?")   # "rtl_sweep.tasks.inr:INR"


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
            names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names  # a module,
                                      if not a.name.startswith("__")]           # not __version__
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


def module_graph(pkg: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (`pkg.a.b`; a package is its __init__). `from
    pkg.a import b` names module pkg.a.b when b is one, else pkg.a; relative imports resolve."""
    root = pkg.name
    paths = {}
    for path in sorted(pkg.rglob("*.py")):
        parts = list(path.relative_to(pkg.parent).with_suffix("").parts)
        paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def known(name: str) -> str | None:
        while name not in paths and "." in name:
            name = name.rsplit(".", 1)[0]
        return name if name in paths else None

    graph: dict[str, set[str]] = {}
    for mod, path in paths.items():
        text = path.read_text()
        targets = []
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                targets += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
                    base = ".".join(here[:len(here) - node.level + 1] + ([base] if base else []))
                targets += [f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base for a in node.names]
            elif ("import_module" in text and isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and _REGISTRY.fullmatch(node.value)):
                targets.append(node.value.split(":")[0])
        graph[mod] = {t for t in map(known, (t for t in targets if t.split(".")[0] == root))
                      if t and t != mod}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle as [a, b, ..., a], or [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(m: str) -> list[str]:
        state[m] = 1
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        path.pop()
        state[m] = 2
        return []

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return []


def _rank(mod: str) -> int:
    parts = mod.split(".")
    return 3 if len(parts) == 1 else RANK[_layer(parts[1])]   # the root sits above every layer


def wrong_way(graph: dict[str, set[str]]) -> list[str]:
    """Imports that run up the layers, and any import of the package root."""
    out = []
    for mod, targets in sorted(graph.items()):
        if "." not in mod:
            continue  # the root re-exports the notebook API from every layer
        for t in sorted(targets):
            if "." not in t:
                out.append(f"{mod} imports the package root {t} (import the module that defines the name)")
            elif _rank(t) > _rank(mod):
                out.append(f"{mod} ({_layer(mod.split('.')[1])}) imports {t} ({_layer(t.split('.')[1])})")
    return out


def test_every_module_has_a_layer():
    assert {top for _, top in _modules()} >= FOUNDATIONS | {"engine", "units", "loops", "tasks"}


def test_foundations_and_engine_import_no_ray():
    wrong = [f"{path.relative_to(PKG)} imports ray" for path, top in _modules()
             if _layer(top) != "shell" and "ray" in _imports(path)]
    assert not wrong, "\n".join(wrong)


def test_no_import_runs_up_the_layers_or_to_the_root():
    wrong = wrong_way(module_graph(PKG))
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle():
    cycle = find_cycle(module_graph(PKG))
    assert not cycle, "import circle: " + " -> ".join(cycle)


def test_the_check_sees_lazy_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from rtl_sweep.sweep.tuner import x\n    import ray\n")
    assert _imports(f) == {"rtl_sweep.sweep", "ray"}


def test_the_checks_see_circles_registries_and_the_root(tmp_path):
    pkg = tmp_path / "rtl_sweep"
    (pkg / "tasks").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("import rtl_sweep\n")                       # the root
    (pkg / "context.py").write_text("from rtl_sweep.tasks import get_task\n")
    (pkg / "tasks" / "__init__.py").write_text(
        "import importlib\nTASKS = {'a': 'rtl_sweep.tasks.a:A'}\n"              # a registry
        "def get_task(n):\n    return importlib.import_module(TASKS[n].split(':')[0])\n")
    (pkg / "tasks" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..context import X\n")
    (pkg / "store.py").write_text("def f():\n    from rtl_sweep.cli import main\n")  # up, lazily
    (pkg / "cli.py").write_text("def main():\n    pass\n")
    graph = module_graph(pkg)
    assert find_cycle(graph) == ["rtl_sweep.context", "rtl_sweep.tasks", "rtl_sweep.tasks.a",
                                 "rtl_sweep.context"]
    assert [w.split(" imports ")[0] for w in wrong_way(graph)] == ["rtl_sweep.errors",
                                                                    "rtl_sweep.store (foundation)"]
