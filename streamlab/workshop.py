"""Workshop mode: one shared Redis for a class, one fenced ACL user per learner, a progress board.

    streamlab workshop setup --learners 20 --out learners.csv   # REDIS_URL = the admin's URL
    streamlab workshop board                                     # the live progress board
    streamlab workshop teardown                                  # the users and their keys, gone

What ``setup`` makes on the server, per learner ``L`` (Redis 7.0+ or Valkey 7.2+: the
progress grant is an ACL *selector*):

- an ACL user ``L`` with a random password (``secrets``), allowed what the lessons need
  (``namespace.FENCE_CATEGORIES``: ``@connection @stream @pubsub @read @write
  @transaction``, ``EVAL``/``EVALSHA``/``SCRIPT LOAD``) minus every ``@dangerous``
  command (``INFO``, ``CONFIG``, ``KEYS``, ``FLUSHALL``, ``CLIENT KILL`` ...) and
  ``FUNCTION``; its keys and channels fenced to the learner's namespace ``ws:L:*``
  (``~ws:L:*`` ``&ws:L:*``), the names ``sl.connect()`` renames the course's keys to
  for that user (``streamlab.namespace``);
- a progress stream ``workshop:progress:L`` the user may only ``XADD`` to (the selector
  ``(+xadd ~workshop:progress:L)``): every ``check()`` of an exercise appends one entry
  there (``streamlab.exercises``). One stream per learner, so an entry's learner is the
  stream it is in: nobody can report progress for somebody else;
- the learner's name in the hash ``workshop:learners`` (learner -> when it was made),
  which is how ``board`` and ``teardown`` know the workshop's users from any others.

Re-running ``setup`` is safe: the rules are applied again (so a newer recipe reaches every
user), and an existing user's password never changes without ``--rotate``. The CSV given
in ``--out`` keeps the passwords it holds (checked against the server's password hashes,
``ACL GETUSER``); a user whose password it does not hold is kept as is and said so (its
URL is in the CSV that made it). ``--rotate`` gives every learner a new password and
disconnects their open connections (a leaked CSV).

Nothing changes on the server before what can be checked is checked: the ``--out`` file
can be written (and is not a file of something else), the admin may run ``CLIENT KILL``
when passwords rotate (``ACL DRYRUN``). The CSV is written (mode 600, never through a
symlink) with every new password *before* ``ACL SETUSER`` sets it, so a failure half-way
never leaves a password that exists only on the server: run the same command again.

Passwords appear only in the CSV, never on the screen.

``teardown`` deletes the workshop's users whose rules are still the ones ``setup`` gave
them (``ACL GETUSER``; any other user of a registered name is reported and kept, with its
keys), with ``ACL DELUSER``, which also closes their connections; then their keys
(``SCAN MATCH ws:L:*`` + ``UNLINK``), their progress streams and their registry entries,
and nothing else.
"""

from __future__ import annotations

import csv
import hashlib
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import redis

from . import ids, namespace
from .progress import progress_key
from .text import plural

#: Where the workshop's own bookkeeping lives, outside every learner's namespace.
REGISTRY = "workshop:learners"
MIN_VERSION = (7, 0)
RESERVED = {"default"}
#: More learners than this is taken for a typo (2000 for 20); --names can list more.
MAX_LEARNERS = 500
CSV_HEADER = ["learner", "redis_url", "namespace"]
KEPT_UNKNOWN = "password not in this CSV: kept; --rotate to give a new one"


class WorkshopError(RuntimeError):
    """The workshop command cannot go on; the message says why and what to do."""


def namespace_of(learner: str) -> str:
    """The prefix of every key and channel of ``learner``: ``ws:ana:`` (``namespace.key_prefix``)."""
    return namespace.key_prefix(learner)


def check_name(name: str) -> str:
    """``name`` if it can be a learner (a namespace and an ACL user of its own), else ValueError."""
    namespace.validate(name)
    if name.lower() in RESERVED:
        raise ValueError(f"{name!r} cannot be a learner name: {', '.join(sorted(RESERVED))} are taken.")
    return name


def default_names(n: int) -> list[str]:
    """``learner01`` .. ``learnerNN`` (two digits at least, so they sort as numbers)."""
    if n < 1:
        raise ValueError(f"--learners must be 1 or more, got {n}.")
    if n > MAX_LEARNERS:
        raise ValueError(f"--learners {n} is more than {MAX_LEARNERS}, which looks like a typo. "
                         "For a class that big, list the names with --names.")
    width = max(2, len(str(n)))
    return [f"learner{i:0{width}d}" for i in range(1, n + 1)]


def acl_rules(learner: str) -> list[str]:
    """The ``ACL SETUSER`` rules (passwords aside) that fence ``learner`` in.

    The lessons' fence (``namespace.FENCE_CATEGORIES``, ``namespace.acl_rules``) plus
    the one selector that lets the learner ``XADD`` to their progress stream. Reset words
    first, so re-applying them gives the same user whatever it held before; the password
    is left alone (``setup`` sets it separately).
    """
    return ["on", "resetkeys", "resetchannels", "clearselectors", *namespace.FENCE_CATEGORIES,
            *namespace.acl_rules(learner), f"(+xadd ~{progress_key(learner)})"]


def _sha256(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def learner_url(admin_url: str, learner: str, password: str, host: str | None = None) -> str:
    """The ``REDIS_URL`` a learner exports: the admin URL's scheme, host and database, their user."""
    parts = urlsplit(admin_url)
    scheme = parts.scheme or "redis"
    if scheme == "unix":
        if not host:
            raise WorkshopError("the admin URL is a unix socket, which learners on other machines "
                                "cannot reach: pass --host HOST:PORT for their URLs.")
        scheme, path = "redis", "/0"
    else:
        path = parts.path if parts.path not in ("", "/") else "/0"
    if not host:
        name = parts.hostname or "127.0.0.1"
        host = (f"[{name}]" if ":" in name else name) + (f":{parts.port}" if parts.port else "")
    netloc = f"{quote(learner, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit((scheme, netloc, path, "", ""))


@dataclass
class Account:
    """One learner of the workshop, as ``setup`` left it."""

    learner: str
    redis_url: str = field(repr=False)  # holds the password: never printed
    status: str = "new"  # new, kept, rotated

    @property
    def namespace(self) -> str:
        return namespace_of(self.learner)


# --- the admin connection --------------------------------------------------------------------

def admin_client(url: str | None):
    """A streamlab client on the admin URL (``--url``, else ``REDIS_URL``), checked to be usable.

    Refuses fakeredis and servers older than Redis 7.0 (no ACL selectors), and a user
    that cannot run ``ACL``.
    """
    from . import backend

    if not url and not os.environ.get("REDIS_URL", "").strip():
        raise WorkshopError("no server given: export REDIS_URL=redis://ADMIN:PASSWORD@host:6379/0 "
                            "(an admin user: the workshop commands run ACL) or pass --url.")
    try:
        # learner="": the admin's names go out as written, whatever user name the URL holds
        # (a user other than `default` would otherwise be taken for a learner's namespace).
        r = backend.connect(url, backend=None if url else "env", quiet=True, learner="")
    except backend.BackendError as exc:
        raise WorkshopError(str(exc)) from None
    if r.backend.version < MIN_VERSION:
        r.close()
        raise WorkshopError(
            f"{r.backend.server_name} {r.backend.version_text} is too old for a workshop: the "
            "progress grant is an ACL selector, new in Redis 7.0 (Valkey 7.2). Upgrade the server.")
    try:
        r.execute_command("ACL", "WHOAMI")
        r.execute_command("ACL", "USERS")
    except redis.ResponseError as exc:
        r.close()
        raise WorkshopError(
            f"the user in this URL may not manage users ({exc}). Use the admin's URL: a user "
            "with +@all (or at least +acl +@read +@write +@stream +scan +unlink +client|kill).") from None
    return r


def registered(r) -> list[str]:
    """The workshop's learners (``HKEYS workshop:learners``), sorted."""
    return sorted(r.hkeys(REGISTRY))


def _read_csv(path: Path, force: bool = False) -> dict[str, str]:
    """learner -> redis_url from an earlier ``setup``'s CSV (nothing if there is none).

    A file that is not one of ``setup``'s (another header, not text) is refused, since
    ``setup`` would overwrite it, unless ``force``.
    """
    if not path or not path.exists():
        return {}
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
            fh.seek(0)
            rows = list(csv.DictReader(fh)) if header == CSV_HEADER else []
    except (UnicodeDecodeError, csv.Error):
        header = None
    except OSError as exc:
        raise WorkshopError(f"cannot read --out {path}: {exc.strerror}. Choose another --out.") from None
    if header != CSV_HEADER:
        if force:
            return {}
        raise WorkshopError(
            f"{path} exists and is not a learners CSV that setup wrote (its first line is not "
            f"{','.join(CSV_HEADER)}): setup would overwrite it. Choose another --out, or pass "
            "--force to replace it.")
    return {row["learner"]: row["redis_url"] for row in rows
            if row.get("learner") and row.get("redis_url")}


def _check_writable(path: Path) -> None:
    """WorkshopError unless ``path`` can be (re)written: checked before the server changes."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise WorkshopError(f"cannot write --out {path}: the folder {folder} does not exist. "
                            "Nothing was changed on the server.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WorkshopError(f"cannot write --out {path}: you may not write in {folder}. "
                            "Nothing was changed on the server.")


def _password_in(url: str) -> str | None:
    from urllib.parse import unquote

    password = urlsplit(url).password
    return unquote(password) if password is not None else None


def _write_csv(path: Path, accounts: list[Account]) -> None:
    """Write the CSV atomically, mode 0600 (it holds every learner's password).

    ``mkstemp`` makes a new file of its own (``O_EXCL``, 0600): never an old ``.tmp`` that
    kept a wider mode, never a symlink's target; ``os.replace`` then swaps it in (a symlink
    at ``path`` is replaced, not followed).
    """
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".",
                               prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(CSV_HEADER)
            for a in accounts:
                if a.redis_url:  # a user kept without a password known here has no row
                    out.writerow([a.learner, a.redis_url, a.namespace])
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _check_may_kill(r) -> None:
    """WorkshopError unless the admin may run ``CLIENT KILL USER`` (``ACL DRYRUN``)."""
    me = r.execute_command("ACL", "WHOAMI")
    try:
        verdict = r.execute_command("ACL", "DRYRUN", me, "CLIENT", "KILL", "USER", "nobody")
    except redis.ResponseError as exc:
        verdict = str(exc)
    if verdict != "OK":
        raise WorkshopError(
            f"your admin user {me!r} may not run CLIENT KILL, which --rotate needs to close the "
            "connections of the old passwords. Nothing was changed. Grant it (ACL SETUSER "
            f"{me} +client|kill) or use a user with +@all.")


def setup(r, names: list[str], out: Path, admin_url: str, host: str | None = None,
          rotate: bool = False, force: bool = False) -> list[Account]:
    """Create (or refresh) one fenced user per name; write the CSV; return every account.

    Learners registered by an earlier run and not in ``names`` are kept (and listed):
    only ``teardown`` removes users. An existing user's password changes only with
    ``rotate``. Order: every check, then the CSV, then ``ACL SETUSER`` (module docstring).
    """
    for name in names:
        check_name(name)
    _check_writable(out)
    learner_url(admin_url, "learner", "password", host)  # a URL learners cannot use: said before any change
    existing_users = set(r.execute_command("ACL", "USERS"))
    ours = set(registered(r))
    clash = sorted(n for n in names if n in existing_users and n not in ours)
    if clash:
        raise WorkshopError(
            f"user(s) {', '.join(clash)} already exist on this server and are not the workshop's: "
            "setup never changes a user it did not make. Choose other names (--names).")
    known = _read_csv(out, force)
    plan = []  # (account, password to set or None)
    for name in sorted(set(names) | ours):
        password = None if rotate else _password_in(known.get(name, ""))
        status = "new"
        if name in existing_users:
            if rotate:
                status = "rotated"
            elif password is not None and _sha256(password) in _getuser_passwords(r, name):
                status = "kept"
            else:
                # Its password is in some other CSV (or lost): never changed without --rotate,
                # which would lock the learner out and close their notebooks mid-lesson.
                password, status = None, KEPT_UNKNOWN
        elif password is None:
            password = secrets.token_urlsafe(18)
        if status == "rotated":
            password = secrets.token_urlsafe(18)
        url = learner_url(admin_url, name, password, host) if password is not None else ""
        plan.append((Account(name, url, status), password if status in ("new", "rotated") else None))
    if any(a.status == "rotated" for a, _ in plan):
        _check_may_kill(r)
    accounts = [a for a, _ in plan]
    # The passwords reach the file before the server: a failure below leaves them in the CSV.
    _write_csv(out, accounts)
    for account, password in plan:
        name = account.learner
        rules = acl_rules(name)
        if password is not None:
            rules = rules + ["resetpass", f">{password}"]
        r.execute_command("ACL", "SETUSER", name, *rules)
        if account.status == "rotated":
            # Connections opened with the old password stay open: close them.
            r.execute_command("CLIENT", "KILL", "USER", name)
        if name not in ours:
            r.hset(REGISTRY, name, time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        # The stream every check() of this learner appends to (NOMKSTREAM: only when a workshop
        # made it), started with one entry that says so.
        if not r.exists(progress_key(name)):
            r.xadd(progress_key(name), {"event": "setup"})
    return accounts


def _getuser_passwords(r, name: str) -> set[str]:
    return set(_getuser(r, name).get("passwords") or [])


def learner_keys(r, learner: str, count: int = 1000) -> list[str]:
    """Every key of ``learner`` (``SCAN MATCH ws:L:*``), sorted."""
    # A learner name holds no glob character (namespace.validate), so the prefix matches as written.
    return sorted(r.scan_iter(match=namespace_of(learner) + "*", count=count))


def _getuser(r, name: str) -> dict:
    reply = r.execute_command("ACL", "GETUSER", name) or []
    return dict(zip(reply[::2], reply[1::2])) if isinstance(reply, list) else dict(reply)


def is_workshops(r, name: str) -> bool:
    """True if user ``name``'s keys, channels and selector are still what ``setup`` gave it.

    ``ACL GETUSER``: keys ``~ws:L:*``, channels ``&ws:L:*``, and the selector on
    ``~workshop:progress:L``. Someone's own user of the same name fails it.
    """
    info = _getuser(r, name)
    ns = namespace_of(name)
    selectors = []
    for sel in info.get("selectors") or []:
        sel = dict(zip(sel[::2], sel[1::2])) if isinstance(sel, list) else dict(sel)
        selectors.append(sel.get("keys"))
    return (info.get("keys") == f"~{ns}*" and info.get("channels") == f"&{ns}*"
            and selectors == [f"~{progress_key(name)}"])


@dataclass
class Teardown:
    users: list[str]
    keys: int
    progress: int
    kept: list[str] = field(default_factory=list)  # registered names whose user is not the workshop's


def teardown(r) -> Teardown:
    """Delete the workshop's users, then their keys and progress streams, then their registry entries.

    A user of a registered name whose rules are no longer the workshop's (``is_workshops``)
    is kept, with its keys and registry entry, and listed in ``kept``.
    """
    names = registered(r)
    users = set(r.execute_command("ACL", "USERS"))
    kept = [n for n in names if n in users and not is_workshops(r, n)]
    names = [n for n in names if n not in kept]
    gone = [n for n in names if n in users]
    if gone:
        r.execute_command("ACL", "DELUSER", *gone)  # also closes their connections
    keys = 0
    for name in names:
        found = learner_keys(r, name)
        for start in range(0, len(found), 500):
            keys += r.unlink(*found[start:start + 500])
    progress = r.unlink(*[progress_key(n) for n in names]) if names else 0
    if names:
        r.hdel(REGISTRY, *names)
    return Teardown(gone, keys, progress, kept)


# --- the table setup prints ------------------------------------------------------------------

def accounts_table(accounts: list[Account], out: Path) -> str:
    width = max([len("learner")] + [len(a.learner) for a in accounts])
    lines = [f"{'learner':<{width}}  {'keys and channels':<22}  status"]
    for a in accounts:
        lines.append(f"{a.learner:<{width}}  {a.namespace + '*':<22}  {a.status}")
    counts = {s: sum(a.status == s for a in accounts) for s in ("new", "kept", "rotated", KEPT_UNKNOWN)}
    lines.append("")
    lines.append(f"{len(accounts)} learner(s): {counts['new']} new, {counts['kept']} kept, "
                 f"{counts['rotated']} with a new password.")
    if counts[KEPT_UNKNOWN]:
        lines.append(f"{counts[KEPT_UNKNOWN]} more kept, their passwords unchanged but not in {out}: "
                     "their URLs are in the CSV that made them (or run again with --rotate for new ones).")
    lines.append(f"Their passwords are only in {out} (readable by you alone): give each learner the "
                 "redis_url of their row, to export as REDIS_URL. Nothing else prints them.")
    return "\n".join(lines)


# --- progress: what every check() reports, and the board built from it ----------------------

PASSED, TRIED, NOT_YET = "passed", "tried", "not yet"
#: A learner is stuck on an exercise not passed after this many failed checks ...
STUCK_TRIES = 3
#: ... or this long after its first failed check.
STUCK_SECONDS = 600
MARKS = {PASSED: "✔", TRIED: "✘", NOT_YET: "·"}


def catalogue() -> list[tuple[int, int, str]]:
    """Every exercise of the course: (lesson, number, title), in lesson order."""
    import importlib

    found = []
    for lesson in range(0, 100):
        name = f"streamlab.exercises.lesson{lesson:02d}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise  # the lesson's checkers exist but need a module that is missing: say so
            continue  # no exercises in this lesson
        for number, ex in sorted(module.exercises.exercises.items()):
            found.append((lesson, number, ex.title))
    return found


def label(lesson: int, number: int) -> str:
    return f"{lesson:02d}.{number}"


@dataclass
class Cell:
    """One learner's record on one exercise."""

    tries: int = 0        # checks that came back wrong or error
    passed: bool = False
    first_try: float | None = None   # epoch seconds of the first failed check
    last: float | None = None        # epoch seconds of the latest check

    @property
    def status(self) -> str:
        return PASSED if self.passed else TRIED if self.tries else NOT_YET


class Progress:
    """The board's state, built from the learners' progress streams; ``poll()`` reads what is new.

    Read-only on the server: ``XRANGE`` of each ``workshop:progress:L`` from the last entry
    seen, and ``HKEYS workshop:learners`` for who takes part.
    """

    def __init__(self, r, now=time.time):
        self.r = r
        self.now = now
        self.exercises = [(lesson, number) for lesson, number, _ in catalogue()]
        self.titles = {label(lesson, number): title for lesson, number, title in catalogue()}
        self.learners: list[str] = []
        self.cells: dict[tuple[str, str], Cell] = {}
        self.where: dict[str, tuple[str, float]] = {}  # learner -> (latest exercise, when)
        self._after: dict[str, str] = {}
        self.entries = 0  # checks reported (setup's first entries aside)
        self.unknown = 0  # entries ignored: an exercise this course lacks, or malformed fields
        self._known = {label(lesson, number) for lesson, number in self.exercises}

    def poll(self, batch: int = 1000) -> int:
        """Read every progress entry added since the last poll; the number read."""
        self.learners = registered(self.r)
        read = 0
        for learner in self.learners:
            while True:
                after = self._after.get(learner)
                entries = self.r.xrange(progress_key(learner), ids.following(after) if after else "-", "+",
                                        count=batch)
                for entry_id, fields in entries:
                    self._apply(learner, entry_id, fields)
                    self._after[learner] = entry_id
                read += len(entries)
                if len(entries) < batch:
                    break
        return read

    def _apply(self, learner: str, entry_id: str, fields: dict) -> None:
        if fields.get("event", "check") != "check":
            return
        self.entries += 1
        try:
            key = label(int(fields["lesson"]), int(fields["exercise"]))
        except (KeyError, ValueError, TypeError):
            key = None
        outcome = fields.get("outcome", "")
        if key not in self._known:
            # Not an exercise of this course (a newer streamlab's, a hand-made XADD) or
            # malformed fields: counted, never a crash of the board.
            self.unknown += 1
            return
        if outcome not in ("correct", "wrong", "error"):
            # "not attempted": a check cell run with its blank untouched (Run All runs them
            # all), which says nothing about where the learner is.
            return
        at = ids.seconds(entry_id)
        cell = self.cells.setdefault((learner, key), Cell())
        cell.last = at
        if outcome == "correct":
            cell.passed = True
        else:
            cell.tries += 1
            if cell.first_try is None:
                cell.first_try = at
        self.where[learner] = (key, at)

    def status(self, learner: str, key: str) -> str:
        cell = self.cells.get((learner, key))
        return cell.status if cell else NOT_YET

    def note(self) -> str:
        """What was ignored, if anything: a line for under the board."""
        if not self.unknown:
            return ""
        return (f"{plural(self.unknown, 'progress entry', 'progress entries')} ignored as "
                "unknown (an exercise this course lacks, or fields check() does not write).")

    def stuck(self) -> list[tuple[str, str, int, float]]:
        """(learner, exercise, failed checks, seconds since the first) for each learner stuck.

        A learner is stuck where their latest check was, if that exercise is not passed
        and has ``STUCK_TRIES`` failed checks or its first failed check is
        ``STUCK_SECONDS`` old.
        """
        now = self.now()
        out = []
        for learner in self.learners:
            if learner not in self.where:
                continue
            key, _ = self.where[learner]
            cell = self.cells[(learner, key)]
            if cell.passed or not cell.tries:
                continue
            waited = now - cell.first_try
            if cell.tries >= STUCK_TRIES or waited >= STUCK_SECONDS:
                out.append((learner, key, cell.tries, waited))
        return out

    def frame(self):
        """learners x exercises (labels ``03.2``), each cell passed / tried / not yet (pandas)."""
        import pandas as pd

        columns = [label(lesson, number) for lesson, number in self.exercises]
        return pd.DataFrame([[self.status(learner, key) for key in columns] for learner in self.learners],
                            index=pd.Index(self.learners, name="learner"), columns=columns)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per learner: how many exercises passed, tried, not yet."""
        columns = [label(lesson, number) for lesson, number in self.exercises]
        return {learner: {s: sum(self.status(learner, k) == s for k in columns)
                          for s in (PASSED, TRIED, NOT_YET)} for learner in self.learners}

    def text(self) -> str:
        """The board as text: one row per learner, one mark per exercise, grouped by lesson."""
        if not self.learners:
            return "No learners: run `streamlab workshop setup` first."
        lessons: dict[int, list[int]] = {}
        for lesson, number in self.exercises:
            lessons.setdefault(lesson, []).append(number)
        width = max(len("learner"), *(len(n) for n in self.learners))
        head = f"{'learner':<{width}} " + " ".join(f"{lesson:02d}".ljust(len(nums))
                                                     for lesson, nums in lessons.items())
        lines = [head + "  passed  last check"]
        stuck = {s[0]: s for s in self.stuck()}
        counts = self.counts()
        now = self.now()
        for learner in self.learners:
            marks = " ".join("".join(MARKS[self.status(learner, label(lesson, n))] for n in nums)
                             for lesson, nums in lessons.items())
            where = ""
            if learner in self.where:
                key, at = self.where[learner]
                where = f"{key} ({_ago(now - at)} ago)"
                if learner in stuck:
                    _, _, tries, waited = stuck[learner]
                    where += f"  STUCK: {tries} failed check(s) over {_ago(waited)}"
            lines.append(f"{learner:<{width}} {marks}  {counts[learner][PASSED]:>6}  {where}")
        lines.append("")
        lines.append(f"{MARKS[PASSED]} passed   {MARKS[TRIED]} tried, not passed yet   "
                     f"{MARKS[NOT_YET]} not yet.   Stuck: not passed after {STUCK_TRIES} failed "
                     f"checks or {STUCK_SECONDS // 60} minutes.")
        if self.note():
            lines.append(self.note())
        return "\n".join(lines)


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


# --- each learner's keys, looked at without touching them ------------------------------------

@dataclass
class KeyRow:
    learner: str
    key: str          # the name the learner sees (without ws:L:)
    type: str
    length: int | None = None            # XLEN of a stream
    groups: list[tuple[str, int | None, int]] = field(default_factory=list)  # (group, lag, pending)


def key_rows(r, learner: str, limit: int = 200) -> list[KeyRow]:
    """``learner``'s keys: type, and for a stream its length and each group's lag and pending.

    Only reads (``SCAN``, ``TYPE``, ``XLEN``, ``XINFO``): nothing the learner sees changes.
    """
    from .observe import lag_of

    ns = namespace_of(learner)
    keys = learner_keys(r, learner)[:limit]
    pipe = r.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
    types = pipe.execute()
    rows = []
    for key, kind in zip(keys, types):
        row = KeyRow(learner, key[len(ns):], kind)
        if kind == "stream":
            try:
                info = r.xinfo_stream(key)
                row.length = info.get("length")
                for g in r.xinfo_groups(key):
                    lag, _ = lag_of(r, key, g, info)
                    row.groups.append((g["name"], lag, g["pending"]))
            except redis.ResponseError:
                pass  # gone between SCAN and XINFO: the learner just reset it
        rows.append(row)
    return rows


def printable(name: str) -> str:
    """``name`` with control and other non-printable characters escaped (``\\x1b``).

    Learners choose their key and group names: raw, an escape sequence in one would drive
    the instructor's terminal.
    """
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in name)


def keys_text(rows_by_learner: dict[str, list[KeyRow]]) -> str:
    """Per learner: key count by lesson, and each stream with its groups' lag and pending.

    Key and group names are the learners' own: printed with ``printable``.
    """
    lines = []
    for learner, rows in rows_by_learner.items():
        by_lesson: dict[str, int] = {}
        for row in rows:
            by_lesson[row.key.split(":", 1)[0]] = by_lesson.get(row.key.split(":", 1)[0], 0) + 1
        summary = ", ".join(f"{printable(k)} {v}" for k, v in sorted(by_lesson.items()))
        lines.append(f"{learner}: {len(rows)} key(s) ({summary})" if rows else f"{learner}: no keys")
        for row in rows:
            if row.type != "stream":
                continue
            groups = "".join(f"; group {printable(g)} lag {'?' if lag is None else lag}, pending {p}"
                             for g, lag, p in row.groups)
            lines.append(f"    {printable(row.key)}: {plural(row.length, 'entry', 'entries')}{groups}")
    return "\n".join(lines)


# --- a rehearsal: the board before the day ------------------------------------------------------

def has_workshop(r) -> bool:
    """True if ``streamlab workshop setup`` ran on this server (its registry exists)."""
    try:
        return bool(r.exists(REGISTRY))
    except redis.ResponseError:
        return False


class Rehearsal:
    """A private server with a small scripted class, so the board can be tried before the day.

    Three learners (``ana``, ``ben``, ``chloe``) are made by ``setup`` as on the day and
    check exercises of lesson 01 through the very ``check()`` learners call: ana passes
    the first two, ben fails the first one ``STUCK_TRIES`` times (stuck), chloe has not
    started. ``admin`` is the instructor's client; ``stop()`` ends it all (the kernel's
    exit does too).
    """

    LEARNERS = ("ana", "ben", "chloe")

    def __init__(self):
        import tempfile

        from . import backend, exercises, server

        self.server = server.PrivateServer().start()
        self.admin = backend.connect(self.server.url, quiet=True, learner="")
        self._dir = tempfile.TemporaryDirectory(prefix="streamlab-rehearsal-")
        accounts = setup(self.admin, list(self.LEARNERS), Path(self._dir.name) / "learners.csv",
                         self.server.url)
        urls = {a.learner: a.redis_url for a in accounts}
        quiet = _Quiet()
        for learner, script in (("ana", self._ana), ("ben", self._ben)):
            client = backend.connect(urls[learner], quiet=True)
            try:
                with quiet:
                    script(exercises.load(1, client))
            finally:
                client.close()

    @staticmethod
    def _ana(ex) -> None:
        from .exercises import run_solution

        ex[0].check(*run_solution(ex[0]))
        ex[1].check(lambda entry_id: None)
        ex[1].check(*run_solution(ex[1]))
        ex[0].r.xgroup_create("lesson03:sensors", "workers", id="0", mkstream=True)
        ex[0].r.xadd("lesson03:sensors", {"temp": "21.5"})

    @staticmethod
    def _ben(ex) -> None:
        for _ in range(STUCK_TRIES):
            ex[0].check(["1-1", "1-2", "1-3"])

    def stop(self) -> None:
        self.admin.close()
        self.server.stop()
        self._dir.cleanup()

    def __repr__(self) -> str:
        return (f"<workshop rehearsal: {len(self.LEARNERS)} scripted learners on a private "
                f"{self.admin.backend.server_name} {self.admin.backend.version_text}>")


class _Quiet:
    """Swallow what the scripted learners' checks display (they are not the instructor's)."""

    def __enter__(self):
        import contextlib
        import io

        self._redirect = contextlib.redirect_stdout(io.StringIO())
        self._redirect.__enter__()
        from . import exercises

        self._show, exercises.show = exercises.show, lambda outcome: None
        return self

    def __exit__(self, *exc):
        from . import exercises

        exercises.show = self._show
        return self._redirect.__exit__(*exc)
