"""The package's layers (docs/ARCHITECTURE.md): no import loops, and the engine knows no screens.

- **No import loop** among streamlab's modules, counting every import, also those inside a
  function (a loop through a lazy import is still two modules that need each other).
- **The engine imports no UI**: importing every module outside ``streamlab.ui`` loads none of
  ipywidgets, matplotlib or IPython, and no engine module names ``streamlab.ui`` or those
  libraries anywhere in its source, except the entry points that sit above both layers.
"""

from __future__ import annotations

import ast
import re
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "streamlab"
UI_LIBRARIES = ("ipywidgets", "matplotlib", "IPython")

# Entry points above the engine and the screens: they may import streamlab.ui, but only inside
# a function, so that importing them (or the package) still loads no UI library.
ENTRY_POINTS = {
    "streamlab": "the package's face: sl.connect() registers the notebook magics, sl.note shows a callout",
    "streamlab.bench": "measures the panels' redraw cost among the engine's figures",
    "streamlab.cli": "the terminal command; `streamlab workshop board` draws the board",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(imported module, line, at top level) for every import in ``path``, resolved to our
    modules where it names one (``from . import x`` is module ``x`` when x is a module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name, node.lineno, id(node) in top_level))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in modules else target, node.lineno, id(node) in top_level))
    return found


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for target, _, _ in imports_of(name, path, modules):
            if target in modules and target != name:
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def is_ui(name: str) -> bool:
    return name == "streamlab.ui" or name.startswith("streamlab.ui.")


def test_the_cycle_finder_finds_a_planted_loop():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_loop_in_the_package():
    loops = cycles(import_graph())
    graph = import_graph()
    detail = ["  " + " <-> ".join(loop) + ": " + "; ".join(
        f"{a} -> {b}" for a in loop for b in sorted(graph[a]) if b in loop) for loop in loops]
    assert not loops, "import loops (every import counts, also inside functions):\n" + "\n".join(detail)


def test_engine_modules_never_name_the_ui():
    modules = all_modules()
    offenders = []
    for name, path in modules.items():
        if is_ui(name):
            continue
        for target, line, top in imports_of(name, path, modules):
            names_ui = is_ui(target) or target.split(".")[0] in UI_LIBRARIES
            if not names_ui:
                continue
            if name in ENTRY_POINTS and not top:
                continue  # an entry point may reach the screens from inside a function
            offenders.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    offenders = sorted(set(offenders))
    assert not offenders, ("the engine must not import streamlab.ui, ipywidgets, matplotlib or "
                           "IPython (docs/ARCHITECTURE.md):\n  " + "\n  ".join(offenders))


def test_importing_the_engine_loads_no_ui_library():
    engine = [m for m in all_modules() if not is_ui(m)]
    script = (
        "import importlib, json, sys\n"
        f"for m in {engine!r}:\n"
        "    importlib.import_module(m)\n"
        f"print(json.dumps(sorted(x for x in {UI_LIBRARIES!r} if x in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == [], f"importing the {len(engine)} engine modules loaded {loaded}"


@pytest.mark.parametrize("library", UI_LIBRARIES)
def test_the_import_check_sees_a_ui_library_load(library):
    # The check above must be able to fail: importing a UI module does load these.
    script = ("import importlib, sys\nimportlib.import_module('streamlab.ui')\n"
              f"print({library!r} in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "True", out.stderr[-2000:]


# Six hex digits anywhere; three only where CSS puts a colour (after a colon), so "#123" in prose passes.
HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}\b|(?<=:)\s*#[0-9a-fA-F]{3}\b")
COLOUR_HOMES = ("streamlab/ui/style.py", "streamlab/palette.py")


def hex_colours(text: str) -> list[str]:
    return [found.strip() for found in HEX_COLOUR.findall(text)]


def test_the_colour_check_sees_a_hex_colour():
    assert hex_colours("style='color:#1f2328'") == ["#1f2328"]
    assert hex_colours("color: #fff;") == ["#fff"]
    assert hex_colours("issue #123 and 'lesson #4'") == []


def test_colours_live_in_the_palette_and_the_style_only():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel in COLOUR_HOMES:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if hex_colours(line):
                offenders.append(f"{rel}:{n}: {line.strip()[:100]}")
    assert not offenders, ("a colour outside streamlab/palette.py (HTML the engine renders) and "
                           "streamlab/ui/style.py (figures, panels): name it there\n  " + "\n  ".join(offenders))
