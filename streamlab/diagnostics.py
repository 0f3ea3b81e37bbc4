"""``streamlab doctor``: is this machine ready for the course, and if not, what fixes it.

It reports the versions of everything the course imports, which backend
``connect()`` picks and why each earlier step was skipped, whether the widget
front-end is installed, and for every problem the exact command that fixes it.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from . import backend as _backend
from . import server as _server

# distribution name -> (lowest version the course is tested with, what it is for)
PACKAGES = {
    "redis": ("5.0", "redis-py, the client"),
    "walrus": ("0.9.3", "the article's Redis library"),
    "fakeredis": ("2.26", "the built-in backend"),
    "lupa": ("2.0", "Lua scripts on fakeredis"),
    "ipywidgets": ("8.1", "the Try it panels"),
    "jupyterlab": ("4.0", "the notebook app"),
    "jupyterlab_widgets": ("3.0", "the widget front-end for JupyterLab"),
    "pandas": ("2.0", "tables"),
    "matplotlib": ("3.7", "plots"),
    "ipykernel": ("6.25", "the Python kernel"),
}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    ladder: list[_backend.Step] = field(default_factory=list)
    banner: str = ""

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def text(self) -> str:
        lines = ["streamlab doctor", "", f"Python {platform.python_version()} on {platform.platform()}"]
        for c in self.checks:
            mark = "ok " if c.ok else "!! "
            lines.append(f"  {mark}{c.name}: {c.detail}")
            if c.fix:
                lines.append(f"       fix: {c.fix}")
        lines += ["", "Backend (what connect() picks, step by step):"]
        for step in self.ladder:
            lines.append(f"  {step.outcome:8} {step.name:8} {step.reason}")
        if self.banner:
            lines.append(f"  -> {self.banner}")
        lines.append("")
        if self.problems:
            lines.append(f"{len(self.problems)} problem(s); run the 'fix' commands above, then restart the kernel.")
        else:
            lines.append("Everything the course needs is here.")
        return "\n".join(lines)


def _version_tuple(text: str) -> tuple[int, ...]:
    return _backend._version_tuple(text)


def check_packages() -> list[Check]:
    checks = []
    for dist, (minimum, purpose) in PACKAGES.items():
        try:
            found = metadata.version(dist)
        except metadata.PackageNotFoundError:
            checks.append(Check(dist, False, f"not installed ({purpose})",
                                f'{sys.executable} -m pip install "{dist}>={minimum}"'))
            continue
        ok = _version_tuple(found) >= _version_tuple(minimum)
        checks.append(Check(dist, ok, f"{found}" + ("" if ok else f", older than {minimum} ({purpose})"),
                            "" if ok else f'{sys.executable} -m pip install -U "{dist}>={minimum}"'))
    return checks


def check_widget_frontend() -> Check:
    """The JupyterLab widget manager must be installed where JupyterLab looks for extensions."""
    ext = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter-widgets" / "jupyterlab-manager"
    if ext.is_dir():
        return Check("widget front-end", True, f"found at {ext}")
    return Check("widget front-end", False,
                 "the JupyterLab widget extension is missing, so panels would show "
                 "'Error displaying widget'",
                 f'{sys.executable} -m pip install -U "ipywidgets>=8.1" jupyterlab_widgets, '
                 "then restart JupyterLab")


def check_server_binary() -> Check:
    binary = _server.find_server_binary()
    if not binary:
        return Check("redis-server", True,
                     "not on PATH: fine, the course runs on fakeredis; for real-server behaviour "
                     "install one", _server.INSTALL_HINT)
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return Check("redis-server", False, f"{binary} does not run ({exc})", _server.INSTALL_HINT)
    return Check("redis-server", True, f"{binary}: {out}")


def diagnose(url: str | None = None) -> Report:
    """Everything ``doctor`` checks, as data (the CLI and ``sl.doctor()`` print it)."""
    report = Report()
    report.checks += check_packages()
    report.checks.append(check_widget_frontend())
    report.checks.append(check_server_binary())
    from .cluster import doctor_line  # lesson 09: which cluster connect(cluster=True) would use

    ok, detail, fix = doctor_line(url)
    report.checks.append(Check("cluster", ok, detail, "" if ok else fix))
    try:
        chosen = _backend.choose_backend(url)
    except _backend.BackendError as exc:
        report.checks.append(Check("backend", False, str(exc),
                                   "follow the advice above, or unset REDIS_URL/STREAMLAB_BACKEND"))
        return report
    report.ladder = chosen.ladder
    client = _backend._make_client(chosen)
    try:
        report.banner = client.banner()
        missing = [name for name, ok in client.features().items() if not ok]
        detail = ("every stream feature the course shows is there" if not missing else
                  "fine for the course; newer features this server lacks (lessons say which "
                  "version brings them): " + ", ".join(missing))
        report.checks.append(Check("features", True, detail))
    finally:
        client.close()
    return report


def run(url: str | None = None) -> Report:
    report = diagnose(url)
    print(report.text())
    return report
