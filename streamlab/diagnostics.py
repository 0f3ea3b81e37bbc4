"""``streamlab doctor``: is this machine ready for the course, and if not, what fixes it.

It reports the versions of everything the course imports, which backend
``connect()`` picks and why each earlier step was skipped, whether the widget
front-end is installed, and for every problem the exact command that fixes it.
"""

from __future__ import annotations

import platform
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
    try:
        binary = _server.find_server_binary()
    except _server.ServerError as exc:
        return Check("redis-server", False, str(exc), "unset STREAMLAB_SERVER_BINARY or fix its value")
    if not binary:
        return Check("redis-server", True,
                     "not on PATH: fine, the course runs on fakeredis; for real-server behaviour "
                     "install one", _server.INSTALL_HINT)
    label = _server.binary_version(binary)
    if label is None:
        return Check("redis-server", False, f"{binary} does not run", _server.INSTALL_HINT)
    return Check("redis-server", True, f"{binary}: {label} (what a private server starts)")


def new_way(features: dict[str, bool]) -> dict[str, list[str]]:
    """The lessons' "new way" cells for a server with ``features`` (``Client.features()``):
    {"real": ..., "emulated": ..., "not shown": ...}, each a list like "04 XNACK (8.8)".
    A cell the server cannot run goes to a side emulation only where fakeredis has the
    feature (``backend.emulated()``); otherwise the lesson only describes it."""
    from .newway import NEW_WAY  # here: newway pulls in pandas

    side = _backend.emulated().features()
    found: dict[str, list[str]] = {"real": [], "emulated": [], "not shown": []}
    for name, (lessons, label) in _backend.FEATURE_LESSONS.items():
        since = _backend._dotted(_backend.FEATURES[name][0])
        shown = f"{'/'.join(f'{n:02d}' for n in lessons)} {label} ({since})"
        # The side emulation is used only where its behaviour was checked against the
        # docs (NEW_WAY[...].emulated): fakeredis has `inactive`, but with another meaning.
        emulated = side.get(name) and name in NEW_WAY and NEW_WAY[name].emulated
        where = "real" if features.get(name) else "emulated" if emulated else "not shown"
        found[where].append(shown)
    return found


def check_features(client) -> list[Check]:
    """What the server is (from HELLO), which new-way cells run on it, what it lacks."""
    try:
        features = client.features()
    except _backend.BackendError as exc:  # the ACL refused the probe's XADD: lessons would fail too
        return [Check("server", True, client.backend.server),
                Check("features", False, str(exc),
                      "give the URL's user a namespace it may write (streamlab workshop setup "
                      "makes such users), or use a URL whose user may write keys")]
    cells = new_way(features)
    detail = f"run for real here: {', '.join(cells['real']) or 'none'}"
    if cells["emulated"]:
        detail += (f"; on a side fakeredis emulating Redis "
                   f"{_backend._dotted(_backend.EMULATION_VERSION)} (labelled): "
                   + ", ".join(cells["emulated"]))
    if cells["not shown"]:
        detail += "; described only (fakeredis cannot emulate it): " + ", ".join(cells["not shown"])
    checks = [Check("server", True, client.backend.server), Check("new-way cells", True, detail)]
    older = [name for name, ok in features.items()
             if not ok and name not in _backend.FEATURE_LESSONS]
    checks.append(Check("features", True,
                        "every stream feature the lessons' main path uses is there" if not older else
                        "fine for the course; this server lacks (the lessons say where it "
                        "matters): " + ", ".join(older)))
    return checks


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
        report.checks += check_features(client)
    finally:
        client.close()
    return report


def run(url: str | None = None) -> Report:
    report = diagnose(url)
    print(report.text())
    return report
