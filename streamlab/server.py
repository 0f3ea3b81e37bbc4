"""A private ``redis-server`` (or ``valkey-server``) for one Python process.

The server listens on 127.0.0.1 only, on a free port, keeps nothing on disk
(``--save ""``, ``--appendonly no``) and works in its own temporary directory.

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

SERVER_BINARIES = ("redis-server", "valkey-server")

INSTALL_HINT = (
    "Install a Redis server: `sudo apt-get install redis-server` (Debian/Ubuntu), "
    "`brew install redis` (macOS) or `conda install -c conda-forge redis-server`; "
    "or leave STREAMLAB_BACKEND unset to use the built-in fakeredis."
)


class ServerError(RuntimeError):
    """The private server could not be started; the message says why and what to do."""


def find_server_binary() -> str | None:
    """Path of the first ``redis-server`` or ``valkey-server`` on PATH, or None."""
    for name in SERVER_BINARIES:
        path = shutil.which(name)
        if path:
            return path
    return None


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


def _listening(port: int) -> bool:
    """True if a Redis server answers on ``port`` (a NOAUTH error counts)."""
    return _hello(port).startswith((b"$", b"-NOAUTH"))


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


def die_with_this_process():
    """A ``preexec_fn`` for ``subprocess.Popen``: the child gets SIGTERM when we die (Linux).

    ``PR_SET_PDEATHSIG`` fires when the parent exits, even by SIGKILL. A parent
    that dies between the fork and the ``prctl`` call would be missed, so the
    child then checks that its parent is still the one that forked it. Returns
    None off Linux, where callers rely on their own cleanup.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(1)

    return preexec


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
            preexec_fn=die_with_this_process(),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if _answered_by(chosen, proc):
                return proc, chosen
            time.sleep(0.02)
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
    """Body of the supervisor process: start the server, wait for EOF on stdin, clean up."""
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
    print(f"READY {chosen} {proc.pid}", flush=True)
    # Blocks until the parent closes the pipe, which the kernel also does when
    # the parent dies: this is what ties the server's life to the parent's.
    while sys.stdin.buffer.read(4096):
        pass
    cleanup()
    return 0


class PrivateServer:
    """A loopback-only Redis server owned by this Python process.

    ``start()`` returns once the server answers PING; ``stop()`` (also run at
    interpreter exit) shuts it down and deletes its directory.
    """

    def __init__(self, binary: str | None = None, port: int | None = None,
                 extra_args: list[str] | None = None):
        self.binary = binary or find_server_binary()
        self.requested_port = port
        self.extra_args = list(extra_args or [])
        self.port: int | None = None
        self.server_pid: int | None = None
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
            _, port, pid = line.split()
            self.port, self.server_pid = int(port), int(pid)
            atexit.register(self.stop)
            return self

    def _read_first_line(self, timeout: float) -> str:
        result: list[str] = []
        reader = threading.Thread(
            target=lambda: result.append(self._supervisor.stdout.readline().decode().strip()),
            daemon=True,
        )
        reader.start()
        reader.join(timeout)
        if not result:
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
