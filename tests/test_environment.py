"""Every package the course imports is declared wherever people install it from.

Three places install the course: ``pyproject.toml`` (pip), ``environment.yml``
(local conda users) and ``binder/environment.yml`` (Binder, which reads only
``binder/``). Seen in other courses: duplicated environment files drift apart,
and an import that works on the author's machine (because something else
pulled the package in) breaks on Binder. These tests catch both.

A package may go undeclared only when a declared one is guaranteed to bring it
(``GUARANTEED_BY``), and that guarantee is itself checked against the
installed packages' metadata.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
ENV_FILES = [ROOT / "environment.yml", ROOT / "binder" / "environment.yml"]
FIRST_PARTY = {"streamlab"}

# Imported but not declared, because the declared package on the right always
# installs it (on PyPI and conda-forge alike): IPython is the kernel ipykernel runs.
GUARANTEED_BY = {
    "ipython": "ipykernel",
    "traitlets": "ipywidgets",
    "numpy": "pandas",
    "pillow": "matplotlib",  # matplotlib saves images through it
    "jupyter-client": "ipykernel",  # the kernel protocol ipykernel speaks
}

# Where the conda-forge package has another name than the PyPI distribution.
CONDA_NAMES = {
    "matplotlib": "matplotlib-base",  # the same library without the Qt GUI stack
    "redis": "redis-py",  # conda's `redis` is an old client, not redis-py
}

# Cell magics whose body is Python; the body of any other (%%redis) is not.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}


def normalize(name: str) -> str:
    """A distribution name as PyPI compares them: lower case, runs of -_. as one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    """``'fakeredis[lua]>=2.26'`` -> ``'fakeredis'``; ``'conda-forge::python=3.12'`` -> ``'python'``."""
    spec = spec.split("::")[-1].strip()
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec)
    assert match, f"cannot read a package name from {spec!r}"
    return normalize(match.group(0))


# --- what each file declares ---------------------------------------------------

@cache
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def pyproject_runtime() -> set[str]:
    return {requirement_name(s) for s in pyproject()["project"]["dependencies"]}


def pyproject_dev(extra: str = "dev") -> set[str]:
    extras = pyproject()["project"].get("optional-dependencies", {})
    return {requirement_name(s) for s in extras.get(extra, [])}


# Tools that `make` runs with an extra of their own (`make mutate` installs `.[dev,mutation]`).
TOOL_EXTRAS = {"mutate.py": "mutation"}


@cache
def environment(path: Path) -> dict:
    """``{'channels': [...], 'conda': {name: spec}, 'pip': {name: spec}}`` of one environment file."""
    data = yaml.safe_load(path.read_text())
    conda, pip = {}, {}
    for item in data.get("dependencies", []):
        if isinstance(item, dict):
            for spec in item.get("pip", []):
                pip[requirement_name(spec)] = spec.replace(" ", "")
        else:
            conda[requirement_name(str(item))] = str(item).replace(" ", "")
    return {"channels": data.get("channels", []), "conda": conda, "pip": pip}


def env_declares(path: Path, dist: str) -> bool:
    env = environment(path)
    return dist in env["pip"] or normalize(CONDA_NAMES.get(dist, dist)) in env["conda"]


# --- what the code imports ------------------------------------------------------

def module_imports(tree: ast.AST) -> set[str]:
    """Top-level names of absolute imports in a parsed module."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def notebook_python(path: Path) -> list[tuple[int, str]]:
    """(cell index, Python source) of each code cell, without IPython magics and shell lines."""
    cells = []
    for index, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        lines = source.splitlines()
        first = lines[0].strip() if lines else ""
        if first.startswith("%%"):
            magic = first[2:].split()[0] if first[2:].split() else ""
            if magic not in PYTHON_CELL_MAGICS:
                continue  # e.g. %%redis: its body is redis-cli commands
            lines = lines[1:]
        kept = [line for line in lines
                if not re.match(r"\s*([%!]|\w+\s*=\s*[%!])", line)]
        cells.append((index, "\n".join(kept)))
    return cells


def local_modules() -> set[str]:
    """Modules that live in this repository's script folders (imported via sys.path)."""
    names = set()
    for folder in (ROOT / "tests", ROOT / "tools"):
        names.update(p.stem for p in folder.glob("*.py"))
    return names


def imports_in(paths: list[Path]) -> dict[str, set[str]]:
    """{third-party top-level import: {files that import it}} over ``paths``."""
    ignored = set(sys.stdlib_module_names) | FIRST_PARTY | local_modules() | {"__future__"}
    found: dict[str, set[str]] = {}
    for path in paths:
        where = str(path.relative_to(ROOT))
        if path.suffix == ".ipynb":
            sources = [(f"{where} (cell {i})", src) for i, src in notebook_python(path)]
        else:
            sources = [(where, path.read_text())]
        for label, source in sources:
            try:
                tree = ast.parse(source)
            except SyntaxError as exc:
                pytest.fail(f"{label} is not valid Python, so its imports cannot be read: {exc}")
            for name in module_imports(tree) - ignored:
                found.setdefault(name, set()).add(where)
    return found


@cache
def _import_to_dists() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def distributions_of(import_name: str) -> list[str]:
    """Distributions that provide ``import_name`` here (``yaml`` -> ``['pyyaml']``).

    A module that is not installed is assumed to share its distribution's name,
    so a declared but absent package (``tomli`` on Python 3.11+) still matches.
    """
    dists = _import_to_dists().get(import_name)
    return [normalize(d) for d in dists] if dists else [normalize(import_name)]


def undeclared(imports: dict[str, set[str]], declares, where: str) -> list[str]:
    """One line per import whose distribution ``declares(dist)`` rejects."""
    problems = []
    for name, files in sorted(imports.items()):
        dists = distributions_of(name)
        ok = any(declares(d) or (d in GUARANTEED_BY and declares(GUARANTEED_BY[d])) for d in dists)
        if not ok:
            problems.append(f"{' or '.join(dists)} (import {name} in {', '.join(sorted(files))}) "
                            f"is not declared in {where}")
    return problems


def course_files() -> list[Path]:
    """What runs in a learner's kernel: the package and every notebook."""
    notebooks = [p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts]
    return sorted((ROOT / "streamlab").rglob("*.py")) + sorted(notebooks)


# --- the tests ------------------------------------------------------------------

def test_root_and_binder_environment_files_declare_the_same_dependencies():
    root, binder = (environment(p) for p in ENV_FILES)
    for part in ("channels", "conda", "pip"):
        assert root[part] == binder[part], (
            f"environment.yml and binder/environment.yml differ in {part}: "
            f"{root[part]} vs {binder[part]}. Binder reads only binder/; change both together.")


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_environment_file_uses_conda_forge_and_the_redis_server_package(path):
    env = environment(path)
    assert env["channels"] == ["conda-forge"]
    assert "redis-server" in env["conda"], f"{path.relative_to(ROOT)} must install redis-server"
    # conda's `redis` is an old Python client: a classic mistake for the server.
    assert "redis" not in env["conda"], (
        f"{path.relative_to(ROOT)}: the conda package `redis` is not the server; "
        "use `redis-server` (and redis-py from pip)")
    assert "python" in env["conda"] and "pip" in env["conda"]


def test_pyproject_supports_python_3_10_and_up():
    spec = pyproject()["project"].get("requires-python", "")
    assert re.fullmatch(r"\s*>=\s*3\.10\s*", spec), f"requires-python should be '>=3.10', not {spec!r}"


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_environment_python_is_one_pyproject_allows(path):
    spec = environment(path)["conda"]["python"]
    match = re.fullmatch(r"python[=<>]*=?3\.(\d+)(\.\*)?", spec)
    assert match, f"{path.relative_to(ROOT)}: pin python as python=3.X, not {spec!r}"
    assert int(match.group(1)) >= 10


def test_every_course_import_is_declared_in_pyproject():
    problems = undeclared(imports_in(course_files()), lambda d: d in pyproject_runtime(),
                          "pyproject.toml [project] dependencies")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_course_import_is_declared_in_environment_file(path):
    problems = undeclared(imports_in(course_files()), lambda d: env_declares(path, d),
                          str(path.relative_to(ROOT)))
    assert not problems, "\n".join(problems)


def test_every_test_and_tool_import_is_declared_in_pyproject_dev_extra():
    files = sorted((ROOT / "tests").glob("*.py")) + sorted((ROOT / "tools").glob("*.py"))
    declared = pyproject_runtime() | pyproject_dev()
    plain = [f for f in files if f.name not in TOOL_EXTRAS]
    problems = undeclared(imports_in(plain), lambda d: d in declared,
                          "pyproject.toml [project.optional-dependencies] dev")
    for name, extra in TOOL_EXTRAS.items():
        with_extra = declared | pyproject_dev(extra)
        problems += undeclared(imports_in([ROOT / "tools" / name]), lambda d: d in with_extra,
                               f"pyproject.toml [project.optional-dependencies] dev or {extra}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_pyproject_dependency_is_in_environment_file(path):
    missing = sorted(d for d in pyproject_runtime() if not env_declares(path, d))
    assert not missing, (f"{path.relative_to(ROOT)} lacks {', '.join(missing)}, which pyproject.toml "
                         "requires: Binder would install streamlab without them (postBuild uses --no-deps)")


@pytest.mark.parametrize("dist,guarantor", sorted(GUARANTEED_BY.items()))
def test_guaranteed_package_really_comes_with_its_guarantor(dist, guarantor):
    assert guarantor in pyproject_runtime(), f"{guarantor} must be declared to vouch for {dist}"
    requires = metadata.requires(guarantor) or []
    # A marker on the Python version only still installs it everywhere; one
    # on an extra or a platform does not.
    unconditional = {requirement_name(r) for r in requires
                     if not re.search(r"extra|platform|os_name|implementation", r.partition(";")[2])}
    assert dist in unconditional, (
        f"{guarantor} does not always install {dist} (its requirements: {requires}); "
        f"declare {dist} itself in pyproject.toml and both environment files")


def test_undeclared_import_is_reported_with_package_and_file():
    """The check names the distribution (not the import) and the file that imports it."""
    problems = undeclared({"yaml": {"streamlab/example.py"}}, lambda d: False, "environment.yml")
    assert problems == ["pyyaml (import yaml in streamlab/example.py) is not declared in environment.yml"]
