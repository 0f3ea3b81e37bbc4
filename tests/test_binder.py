"""binder/start brings up a loopback redis-server, exports REDIS_URL and hands over.

Binder (repo2docker) runs ``binder/start <server command>`` at every launch.
These tests run it with a small Python stub as the command, on a free port
(``STREAMLAB_BINDER_PORT``) so the machine's own 6379 is never touched, and
with ``TMPDIR`` pointing into the test's temporary directory so the server's
pid file is found and the server stopped afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from streamlab import server as sl_server

from helpers import wait_until

ROOT = Path(__file__).resolve().parents[1]
START = ROOT / "binder" / "start"
POST_BUILD = ROOT / "binder" / "postBuild"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="binder/start is a bash script")

# Prints what the handed-over command sees, then exits with a code of its own,
# so a test can tell that the script's exit code and stdout are the stub's.
STUB = """
import json, os, sys
url = os.environ.get("REDIS_URL")
pong = None
if url:
    import redis
    try:
        pong = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5).ping()
    except redis.ConnectionError:
        pong = False
print(json.dumps({"pid": os.getpid(), "url": url, "pong": pong,
                  "dir": os.environ.get("STREAMLAB_BINDER_REDIS_DIR")}))
sys.exit(7)
"""


def _need_redis_server() -> None:
    if shutil.which("redis-server"):
        return
    reason = "redis-server is not on PATH, so binder/start has nothing to start"
    if os.environ.get("STREAMLAB_REQUIRE_SERVER") == "1":
        pytest.fail(f"STREAMLAB_REQUIRE_SERVER=1 but {reason}")
    pytest.skip(reason)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "STREAMLAB_BACKEND")}
    env["TMPDIR"] = str(tmp_path)
    env.update(extra)
    return env


def _run_start(env: dict[str, str]) -> tuple[subprocess.Popen, dict, str]:
    """Run binder/start with the stub; return (process, the stub's report, stderr)."""
    proc = subprocess.Popen([str(START), sys.executable, "-c", STUB], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=30)
    lines = out.splitlines()
    assert len(lines) == 1, f"stdout should be the stub's one line only, got {out!r} (stderr {err!r})"
    return proc, json.loads(lines[0]), err


def _answers(port: int) -> bool:
    """True if something on 127.0.0.1:``port`` answers PING (raw socket: no client retries)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _running(pid: int) -> bool:
    """True while ``pid`` is a live process; an exited one awaiting its reaper counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # The daemonized server's parent is init, which may reap it a while after
    # it exits; until then it is a zombie that signal 0 still finds.
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return not sys.platform.startswith("linux")


def _stop_by_pidfile(pidfile: Path) -> int | None:
    """SIGTERM the server named in ``pidfile``, wait until it has exited, return its pid."""
    if not pidfile.exists():
        return None
    pid = int(pidfile.read_text().strip())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return pid
    wait_until(lambda: not _running(pid), timeout=10)
    if _running(pid):
        os.kill(pid, signal.SIGKILL)
    return pid


@pytest.fixture
def started_server(tmp_path):
    """Run binder/start on a free port; yield (process, stub report, stderr, port); stop the server."""
    _need_redis_server()
    port = sl_server.free_port()
    try:
        proc, report, err = _run_start(_env(tmp_path, STREAMLAB_BINDER_PORT=str(port)))
        yield proc, report, err, port
    finally:
        for pidfile in tmp_path.glob("streamlab-redis.*/redis.pid"):
            _stop_by_pidfile(pidfile)


def test_start_brings_up_a_server_and_hands_over_to_the_command(started_server):
    proc, report, err, port = started_server
    assert report["url"] == f"redis://127.0.0.1:{port}/0"
    assert report["pong"] is True, "the command started by binder/start could not PING REDIS_URL"
    # exec: the stub replaced the script, so it has the script's pid and exit code.
    assert report["pid"] == proc.pid
    assert proc.returncode == 7
    assert f"REDIS_URL=redis://127.0.0.1:{port}/0" in err


def test_started_server_is_loopback_only_and_keeps_nothing_on_disk(started_server):
    _, report, _, port = started_server
    client = redis.Redis(port=port, socket_timeout=5, decode_responses=True)
    try:
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        assert client.config_get("save")["save"] == ""
        assert client.config_get("appendonly")["appendonly"] == "no"
        assert Path(client.config_get("dir")["dir"]).resolve() == Path(report["dir"]).resolve()
    finally:
        client.close()


def test_stopping_by_pidfile_leaves_no_server_behind(tmp_path):
    _need_redis_server()
    port = sl_server.free_port()
    _run_start(_env(tmp_path, STREAMLAB_BINDER_PORT=str(port)))
    pidfiles = list(tmp_path.glob("streamlab-redis.*/redis.pid"))
    assert len(pidfiles) == 1, "binder/start should leave exactly one pid file in its temp dir"
    pid = _stop_by_pidfile(pidfiles[0])
    assert not _running(pid)
    assert not _answers(port)


def _path_without_redis_server(tmp_path: Path) -> str:
    """A one-directory PATH with every command of ours except redis-server/valkey-server."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            link = bin_dir / name
            if name in sl_server.SERVER_BINARIES or link.exists() or link.is_symlink():
                continue
            link.symlink_to(os.path.join(directory, name))
    return str(bin_dir)


def test_start_hands_over_without_redis_server_on_path(tmp_path):
    env = _env(tmp_path, PATH=_path_without_redis_server(tmp_path))
    proc, report, err = _run_start(env)
    assert report["url"] is None, "no server was started, so REDIS_URL must stay unset"
    assert report["pid"] == proc.pid
    assert proc.returncode == 7
    assert err.strip().count("\n") == 0, f"expected one line on stderr, got {err!r}"
    assert "redis-server is not installed" in err and "fakeredis" in err
    assert not list(tmp_path.glob("streamlab-redis.*")), "nothing should be left in TMPDIR"


def test_start_hands_over_when_redis_server_fails_to_start(tmp_path):
    bin_dir = _path_without_redis_server(tmp_path)
    broken = Path(bin_dir) / "redis-server"
    broken.write_text("#!/bin/sh\necho 'FATAL CONFIG FILE ERROR' >&2\nexit 1\n")
    broken.chmod(0o755)
    proc, report, err = _run_start(_env(tmp_path, PATH=bin_dir,
                                        STREAMLAB_BINDER_PORT=str(sl_server.free_port())))
    assert report["url"] is None, "a server that did not start must not be put in REDIS_URL"
    assert report["pid"] == proc.pid
    assert proc.returncode == 7
    assert "would not start" in err


@pytest.mark.slow
def test_start_gives_up_on_a_silent_server_after_a_bounded_wait(tmp_path):
    bin_dir = _path_without_redis_server(tmp_path)
    # Writes its pid file like a daemonized server, but never listens.
    silent = Path(bin_dir) / "redis-server"
    silent.write_text(
        "#!/bin/sh\n"
        "while [ $# -gt 0 ]; do [ \"$1\" = --pidfile ] && pidfile=\"$2\"; shift; done\n"
        "sleep 60 </dev/null >/dev/null 2>&1 &\n"
        "echo $! > \"$pidfile\"\n"
    )
    silent.chmod(0o755)
    # The fake server would sit there for 60 s: binder/start returning at all (within
    # _run_start's limit) with "did not answer" is the outcome; how fast is not asserted.
    proc, report, err = _run_start(_env(tmp_path, PATH=bin_dir,
                                        STREAMLAB_BINDER_PORT=str(sl_server.free_port())))
    assert report["url"] is None
    assert proc.returncode == 7
    assert "did not answer" in err
    (pidfile,) = tmp_path.glob("streamlab-redis.*/redis.pid")
    pid = int(pidfile.read_text())
    assert wait_until(lambda: not _running(pid), timeout=30), "binder/start should stop the server it gave up on"


def test_start_keeps_a_redis_url_that_is_already_set(tmp_path):
    # A loopback port with nothing on it: the stub's PING fails fast, and no
    # traffic leaves the machine.
    given = f"redis://127.0.0.1:{sl_server.free_port()}/0"
    proc, report, err = _run_start(_env(tmp_path, REDIS_URL=given))
    assert report["url"] == given
    assert proc.returncode == 7
    assert "already set" in err
    assert not list(tmp_path.glob("streamlab-redis.*")), "no server should have been started"


@pytest.mark.parametrize("script", [START, POST_BUILD], ids=["start", "postBuild"])
def test_binder_scripts_are_executable_bash(script):
    assert os.access(script, os.X_OK), f"{script.relative_to(ROOT)} must be executable (chmod +x)"
    assert script.read_text().startswith("#!/bin/bash\n")
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, f"{script.relative_to(ROOT)} has a syntax error: {result.stderr}"


def test_post_build_stops_at_the_first_failing_step():
    lines = [line.strip() for line in POST_BUILD.read_text().splitlines()]
    commands = [line for line in lines if line and not line.startswith("#")]
    assert commands[0].startswith("set -e"), "postBuild must `set -e` before its first command"
