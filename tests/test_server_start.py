"""Start-up of the private server, checked in-process: what ``_start_server_process``,
``_answered_by``, ``_hello`` and ``procs.die_with_parent`` do, step by step.

test_server.py checks the private server from outside (through the supervisor, a
subprocess), which mutation testing cannot see. These tests call the start-up functions
directly, so each surviving mutant of them (retry counts, the log quoted in the error, the
child's standard streams, PR_SET_PDEATHSIG, the password branch, the socket timeout, the
extra options) makes a test here fail. Fake "server binaries" are small Python scripts
written into tmp_path that exit at once and leave evidence of what they saw.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading

import pytest
import redis

from streamlab import procs, server
from streamlab.waiting import wait_until

REAL_BINARY = server.find_server_binary()
needs_real_server = pytest.mark.skipif(REAL_BINARY is None,
                                       reason="no redis-server or valkey-server on PATH")

LOG = "".join(f"<{i:03d}>" for i in range(140))  # 700 distinctive characters, no two alike at a cut


def fake_binary(tmp_path, body: str) -> str:
    """An executable script standing in for redis-server. ``argv_value(name)`` gives the
    value server_command passed for ``--name``; it appends a line to ``<dir>/starts`` each run."""
    path = tmp_path / "fake-server"
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent("""\
        import os, sys
        def argv_value(name):
            return sys.argv[sys.argv.index("--" + name) + 1]
        workdir = argv_value("dir")
        with open(os.path.join(workdir, "starts"), "a") as fh:
            fh.write("started\\n")
        """) + textwrap.dedent(body) + "\nsys.exit(1)\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def starts(workdir) -> int:
    with open(os.path.join(workdir, "starts")) as fh:
        return len(fh.readlines())


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_explicit_port_is_tried_once_and_an_empty_log_is_quoted_as_nothing(tmp_path):
    binary = fake_binary(tmp_path, "")
    workdir = tmp_path / "work"
    workdir.mkdir()
    with pytest.raises(server.ServerError) as info:
        server._start_server_process(binary, str(workdir), server.free_port(), 10)
    assert starts(workdir) == 1
    assert str(info.value) == f"{binary} did not start on 127.0.0.1. Its log ends with:\n"


def test_free_port_start_is_tried_five_times(tmp_path):
    binary = fake_binary(tmp_path, "")
    workdir = tmp_path / "work"
    workdir.mkdir()
    with pytest.raises(server.ServerError):
        server._start_server_process(binary, str(workdir), None, 10)
    assert starts(workdir) == 5


def test_error_quotes_exactly_the_last_500_characters_of_the_server_log(tmp_path):
    binary = fake_binary(tmp_path, f"""
        with open(argv_value("logfile"), "w") as fh:
            fh.write({LOG!r})
        """)
    workdir = tmp_path / "work"
    workdir.mkdir()
    with pytest.raises(server.ServerError) as info:
        server._start_server_process(binary, str(workdir), server.free_port(), 10)
    message = str(info.value)
    assert message.endswith("Its log ends with:\n" + LOG[-500:])


def test_server_gets_devnull_for_stdin_stdout_and_stderr(tmp_path, capfd):
    binary = fake_binary(tmp_path, """
        with open(os.path.join(workdir, "stdin"), "w") as fh:
            fh.write(os.path.realpath("/proc/self/fd/0"))
        print("MARKER-ON-STDOUT", flush=True)
        print("MARKER-ON-STDERR", file=sys.stderr, flush=True)
        """)
    workdir = tmp_path / "work"
    workdir.mkdir()
    # pytest already puts /dev/null on fd 0: give this process a pipe there instead, so a
    # child that inherits our stdin would not see /dev/null.
    read_end, write_end = os.pipe()
    saved_stdin = os.dup(0)
    try:
        os.dup2(read_end, 0)
        with pytest.raises(server.ServerError):
            server._start_server_process(binary, str(workdir), server.free_port(), 10)
    finally:
        os.dup2(saved_stdin, 0)
        for fd in (saved_stdin, read_end, write_end):
            os.close(fd)
    out, err = capfd.readouterr()
    assert "MARKER" not in out and "MARKER" not in err
    assert (workdir / "stdin").read_text() == os.devnull


def run_in_thread(fn):
    """Call ``fn`` in a thread that then ends; its result (or exception) is returned."""
    result = {}

    def body():
        try:
            result["value"] = fn()
        except BaseException as exc:  # handed to the caller
            result["error"] = exc

    t = threading.Thread(target=body, name="forks-then-ends")
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_die_with_parent_child_gets_sigterm_when_forking_thread_ends():
    procs.die_with_parent()  # called here too, so the test is linked to it
    proc = run_in_thread(lambda: subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        stdin=subprocess.DEVNULL, preexec_fn=procs.die_with_parent()))
    try:
        assert wait_until(lambda: proc.poll() is not None, 10)
        assert proc.returncode == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.mark.timeout(30)
def test_die_with_parent_child_exits_1_when_its_parent_is_already_another_process():
    assert callable(procs.die_with_parent())
    pid = os.fork()
    if pid == 0:  # child A: its preexec believes A is the parent, but A's parent is pytest
        code = 99
        try:
            pre = procs.die_with_parent()
            pre()  # must os._exit(1) right here
        except BaseException:
            pass
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 1


@needs_real_server
def test_started_server_dies_when_the_thread_that_started_it_ends(tmp_path):
    proc, _port = run_in_thread(
        lambda: server._start_server_process(REAL_BINARY, str(tmp_path), None, 10))
    try:
        assert wait_until(lambda: proc.poll() is not None, 10), "server outlived its parent thread"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@needs_real_server
def test_password_protected_server_counts_as_started(tmp_path):
    proc, port = server._start_server_process(REAL_BINARY, str(tmp_path), None, 10,
                                              extra=["--requirepass", "secret"])
    try:
        assert proc.poll() is None
        with redis.Redis(host="127.0.0.1", port=port, password="secret", socket_timeout=10) as r:
            assert r.ping()
    finally:
        stop(proc)


@needs_real_server
def test_extra_options_reach_the_server(tmp_path):
    proc, port = server._start_server_process(REAL_BINARY, str(tmp_path), None, 10,
                                              extra=["--maxmemory", "12345678"])
    try:
        with redis.Redis(host="127.0.0.1", port=port, socket_timeout=10) as r:
            assert r.config_get("maxmemory") == {"maxmemory": "12345678"}
    finally:
        stop(proc)


@pytest.mark.timeout(20)
def test_hello_gives_up_on_a_listener_that_never_answers():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        assert server._hello(listener.getsockname()[1], timeout=0.5) == b""
    finally:
        listener.close()


@pytest.mark.timeout(60)
def test_a_server_that_runs_but_never_answers_is_stopped_before_the_error(tmp_path):
    # It writes its pid, then waits without listening: the start gives up after its timeout
    # and must kill it (waiting for it to exit by itself would wait for ever).
    binary = fake_binary(tmp_path, """\
        with open(os.path.join(workdir, "pid"), "w") as fh:
            fh.write(str(os.getpid()))
        import time
        time.sleep(3600)
        """)
    workdir = tmp_path / "work"
    workdir.mkdir()
    with pytest.raises(server.ServerError):
        server._start_server_process(binary, str(workdir), server.free_port(), 5)
    pid = int((workdir / "pid").read_text())
    try:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # gone, and reaped: not even a zombie is left
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_repr_says_which_binary_and_whether_it_runs():
    srv = server.PrivateServer()
    assert repr(srv) == f"<PrivateServer {os.path.basename(srv.binary)} stopped>"
    srv.binary = None
    assert repr(srv) == "<PrivateServer ? stopped>"


def test_free_port_is_one_the_system_chose():
    low, high = 1024, 65535
    if os.path.exists("/proc/sys/net/ipv4/ip_local_port_range"):
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            low, high = map(int, fh.read().split())
    ports = [server.free_port() for _ in range(5)]
    assert all(low <= p <= high for p in ports), ports


def _one_client_listener(reply_parts: list[bytes]):
    """A loopback listener that accepts one client, sends ``reply_parts`` 0.2 s apart and
    closes the connection; returns (port, thread, listening socket)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.recv(100)
            for part in reply_parts:
                conn.sendall(part)
                threading.Event().wait(0.2)  # separate pieces on the wire, as a slow server sends them

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread, listener


@pytest.mark.timeout(20)
@pytest.mark.parametrize("parts", [[], [b"$90\r\n# Server\r\nredis_version:7.0.15\r\nproce", b"ss_id:42\r\n"]],
                         ids=["closes-at-once", "reply-in-two-pieces"])
def test_hello_returns_every_byte_the_server_sent_before_closing(parts):
    port, thread, listener = _one_client_listener(parts)
    try:
        assert server._hello(port, timeout=5) == b"".join(parts)
    finally:
        thread.join(10)
        listener.close()


@needs_real_server
def test_stop_forgets_the_port_the_pid_and_the_folder():
    srv = server.PrivateServer().start()
    try:
        assert srv.port and srv.server_pid and srv.workdir
    finally:
        srv.stop()
    assert (srv.port, srv.server_pid, srv.workdir) == (None, None, None)
    srv.stop()  # safe twice


def test_persistence_and_replication_options_come_before_the_callers_own():
    srv = server.PrivateServer(binary="redis-server", extra_args=["--maxmemory", "1mb"], save="60 1",
                               appendonly=True, appendfsync="no", replicaof=("127.0.0.1", 7001))
    assert srv.extra_args == ["--save", "60 1", "--appendonly", "yes", "--appendfsync", "no",
                              "--replicaof", "127.0.0.1", "7001", "--maxmemory", "1mb"]
    assert server.PrivateServer(binary="redis-server", appendfsync="everysec").extra_args == [
        "--save", "", "--appendonly", "no", "--appendfsync", "everysec"]
    assert server.PrivateServer(binary="redis-server", save="900 1").extra_args == [
        "--save", "900 1", "--appendonly", "no"]
    assert server.PrivateServer(binary="redis-server").extra_args == []
    assert server.persistence_args() == ["--save", "", "--appendonly", "no"]
    srv = server.PrivateServer(binary="redis-server")
    assert (srv.port, srv.server_pid, srv.workdir) == (None, None, None)


@needs_real_server
def test_a_start_that_fails_says_why_in_the_supervisors_words(tmp_path):
    # A binary that exits at once: the supervisor answers "ERROR <reason>", shown without "ERROR".
    binary = fake_binary(tmp_path, "")
    with pytest.raises(server.ServerError) as info:
        server.PrivateServer(binary=binary).start(timeout=20)
    message = str(info.value)
    assert message.startswith("Could not start a private fake-server: "), message
    assert "did not start on 127.0.0.1" in message and "ERROR" not in message, message


def test_crash_or_restart_before_start_says_to_start_first():
    srv = server.PrivateServer(binary="redis-server")
    for action in (srv.crash, srv.restart):
        with pytest.raises(server.ServerError) as info:
            action()
        assert str(info.value) == "The private server is not running: call start() first."


@needs_real_server
def test_a_server_folder_with_a_space_in_its_path_is_read_back_whole(tmp_path, monkeypatch):
    # The supervisor answers "READY <port> <pid> <folder>"; the folder is the rest of the line.
    spaced = tmp_path / "a folder with spaces"
    spaced.mkdir()
    monkeypatch.setenv("TMPDIR", str(spaced))
    srv = server.PrivateServer().start()
    try:
        assert srv.workdir.startswith(str(spaced)) and os.path.isdir(srv.workdir)
        with redis.Redis(port=srv.port) as c:
            assert c.ping()
        first = srv.server_pid
        srv.crash()
        srv.restart()  # its READY line carries the folder too
        assert isinstance(srv.server_pid, int) and srv.server_pid != first
        with redis.Redis(port=srv.port) as c:
            assert c.ping()
    finally:
        srv.stop()


@needs_real_server
@pytest.mark.timeout(60)
def test_a_silent_supervisor_makes_crash_and_restart_give_up_after_their_timeout_and_say_so():
    srv = server.PrivateServer().start()
    supervisor = srv._supervisor
    try:
        os.kill(supervisor.pid, signal.SIGSTOP)  # it hears nothing and answers nothing
        with pytest.raises(server.ServerError) as info:
            srv.crash(timeout=1)
        assert str(info.value) == "Could not kill the private server: no answer within 1 s"
        assert srv.running, "crash() only asks: a silent supervisor is left alone"
        with pytest.raises(server.ServerError) as info:
            srv.restart(timeout=1)
        assert str(info.value) == "Could not restart the private server: no answer within 1 s"
    finally:
        os.kill(supervisor.pid, signal.SIGCONT)
        srv.stop()
    assert supervisor.poll() is not None
