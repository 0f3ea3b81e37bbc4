"""No password in any output: banner, reprs, doctor, errors, the CLI; for every URL form.

The server is a private one with a password on the default user and an ACL user whose
password holds a ``/`` and a ``#`` (the characters that break URL parsing when unencoded).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
from urllib.parse import quote

import pytest
import redis

import streamlab as sl
from streamlab import backend as sl_backend
from streamlab.explain import explain
from streamlab.server import PrivateServer

USER_PW = "alpha7/omega9#zeta3"      # ACL user ana's password: / and # need percent-encoding
DEFAULT_PW = "kappa5sigma8"           # the default user's (requirepass)
FRAGMENTS = ("alpha7", "omega9", "zeta3", "kappa5", "sigma8", quote(USER_PW, safe=""))


def assert_no_secret(text: str, where: str) -> None:
    leaked = [f for f in FRAGMENTS if f in text]
    assert not leaked, f"{where} shows {leaked}: {text!r}"


@pytest.fixture(scope="module")
def server():
    with PrivateServer(extra_args=["--requirepass", DEFAULT_PW]) as srv:
        admin = redis.Redis(port=srv.port, password=DEFAULT_PW, decode_responses=True)
        admin.execute_command("ACL", "SETUSER", "ana", "on", ">" + USER_PW, "+@all", "~*", "&*")
        admin.close()
        yield f"127.0.0.1:{srv.port}"


def good_urls(hp: str) -> dict[str, str]:
    return {
        "user:pw@": f"redis://ana:{quote(USER_PW, safe='')}@{hp}/0",
        ":pw@": f"redis://:{DEFAULT_PW}@{hp}/0",
        "?password=": f"redis://{hp}/0?password={DEFAULT_PW}",
        "?username=&password=": f"redis://{hp}/0?username=ana&password={quote(USER_PW, safe='')}",
    }


def bad_urls(hp: str) -> dict[str, str]:
    return {
        "unencoded / and #": f"redis://ana:{USER_PW}@{hp}/0",
        "unencoded /": f"redis://ana:alpha7/omega9@{hp}/0",
        "unencoded #": f"redis://ana:alpha7#omega9@{hp}/0",
        "wrong user:pw@": f"redis://ana:alpha7omega9@{hp}/0",
        "wrong :pw@": f"redis://:kappa5omega9@{hp}/0",
        "wrong ?password=": f"redis://{hp}/0?password=sigma8alpha7",
        "bad port": f"redis://ana:alpha7omega9@{hp.split(':')[0]}:notaport/0",
        "not redis": f"http://ana:alpha7omega9@{hp}/0",
    }


def test_good_urls_connect_and_nothing_shows_the_password(server, monkeypatch):
    monkeypatch.delenv("STREAMLAB_LEARNER", raising=False)
    for form, url in good_urls(server).items():
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            r = sl.connect(url, learner="")
            assert r.ping(), form
            print(r)
            print(repr(r))
            print(r.backend)
            print(repr(r.backend))
            print(r.backend.ladder)
            print(r.banner())
            sl.doctor(url)
        r.close()
        text = out.getvalue()
        assert "***" in text, text  # the URL is shown, with the password hidden
        assert_no_secret(text, form)


def test_bad_urls_fail_with_the_fix_and_never_the_password(server):
    for form, url in bad_urls(server).items():
        with pytest.raises(sl_backend.BackendError) as caught:
            sl.connect(url, quiet=True)
        message = str(caught.value)
        assert_no_secret(message, form)
        assert_no_secret(explain(caught.value), form)
        if form.startswith("unencoded"):
            assert "Percent-encode /, #, @" in message and "%2F" in message, message
        if form.startswith("wrong"):
            assert "refused the password" in message, message
        if form == "not redis":
            assert "should look like redis://" in message, message
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            sl.doctor(url)
        assert "!!" in out.getvalue(), out.getvalue()  # doctor reports the problem ...
        assert_no_secret(out.getvalue(), f"doctor, {form}")  # ... without the password


def test_errors_quoting_urls_are_redacted():
    for url in ("redis://ana:alpha7/omega9@h:1/0", "redis://h:1/0?password=kappa5sigma8&db=0",
                "unix://:zeta3@/tmp/r.sock", "rediss://:sigma8@h:1/0"):
        shown = sl_backend.redact(url)
        assert "***" in shown
        assert_no_secret(shown, url)
        assert_no_secret(explain(redis.ConnectionError(f"cannot reach {url}")), url)
    # A lone user part may be a password put where the user goes (redis-py sends it): hidden.
    assert sl_backend.redact("redis://kappa5sigma8@h:1/0") == "redis://***@h:1/0"
    assert sl_backend.redact("redis://h:1/0") == "redis://h:1/0"  # nothing secret: as is


@pytest.mark.parametrize("url, shown", [
    ("ana:kappa5sigma8@127.0.0.1:7681", "***@127.0.0.1:7681"),  # no redis://
    ("redis:/ana:kappa5sigma8@h:1/0", "***@h:1/0"),
    ("http://ana:kappa5sigma8@h:1/0", "***@h:1/0"),
    ("redis://u%3Akappa5sigma8@h:1/0", "redis://***@h:1/0"),  # an encoded ':'
    ("redis://u:x@h:1/0?p%61ssword=kappa5sigma8", "redis://u:***@h:1/0?p%61ssword=***"),
    ("redis://ana:kappa5sigma8@h:1/0", "redis://ana:***@h:1/0"),
])
def test_urls_that_are_not_well_formed_are_redacted_too(url, shown):
    assert sl_backend.redact(url) == shown


def test_a_url_without_scheme_is_never_echoed_with_its_password():
    with pytest.raises(sl_backend.BackendError) as caught:
        sl.connect("ana:kappa5sigma8@127.0.0.1:1", quiet=True)
    assert_no_secret(str(caught.value), "no scheme")
    assert "should look like redis://" in str(caught.value)
    done = subprocess.run([sys.executable, "-m", "streamlab.cli", "doctor", "--url",
                           "ana:kappa5sigma8@127.0.0.1:1"], capture_output=True, text=True,
                          timeout=120)
    assert "shows in the process list" in done.stderr
    assert_no_secret(done.stdout + done.stderr, "doctor --url without scheme")


def test_cli_never_prints_the_password_and_warns_about_url_in_argv(server):
    urls = good_urls(server)
    env = {k: v for k, v in os.environ.items() if k not in ("STREAMLAB_LEARNER",)}
    env["STREAMLAB_LEARNER"] = "secretcheck"
    runs = [
        (["doctor"], {**env, "REDIS_URL": urls["user:pw@"]}),
        (["reset", "--lesson", "1"], {**env, "REDIS_URL": urls["?password="]}),
        (["reset", "--url", urls[":pw@"]], env),
        (["doctor"], {**env, "REDIS_URL": bad_urls(server)["unencoded / and #"]}),
    ]
    for argv, run_env in runs:
        done = subprocess.run([sys.executable, "-m", "streamlab.cli", *argv], env=run_env,
                              capture_output=True, text=True, timeout=120)
        assert_no_secret(done.stdout + done.stderr, " ".join(argv))
        if "--url" in argv:
            assert done.returncode == 0, done.stderr
            assert "shows in the process list" in done.stderr
    help_text = subprocess.run([sys.executable, "-m", "streamlab.cli", "consume", "--help"],
                               capture_output=True, text=True, timeout=60).stdout
    assert "Prefer REDIS_URL" in help_text


def test_unix_socket_urls_work(monkeypatch):
    monkeypatch.delenv("STREAMLAB_LEARNER", raising=False)
    with tempfile.TemporaryDirectory() as workdir:
        sock = os.path.join(workdir, "redis.sock")
        with PrivateServer(extra_args=["--unixsocket", sock, "--unixsocketperm", "700"]):
            r = sl.connect(f"unix://{sock}?db=0", quiet=True)
            try:
                key = "streamlab:test:unix"
                entry_id = r.xadd(key, {"f": "v"})
                assert r.xrange(key) == [(entry_id, {"f": "v"})]
                assert r.new_client().delete(key) == 1
            finally:
                r.close()


def test_rediss_to_a_plain_server_says_tls(server):
    with pytest.raises(sl_backend.BackendError, match="rediss:// URL speaks TLS"):
        sl.connect(f"rediss://:{DEFAULT_PW}@{server}/0", quiet=True)


def test_a_cluster_banner_hides_the_password():
    from streamlab.cluster import ClusterClient

    client = ClusterClient.__new__(ClusterClient)  # the banner needs only backend and primaries
    client.backend = sl_backend.Backend(kind="cluster-url", url="redis://ana:kappa5sigma8@h:7000/0",
                                        server_name="redis", version=(7, 0), version_text="7.0.15")
    client.get_primaries = lambda: [1, 2, 3]
    banner = client.banner()
    assert "redis://ana:***@h:7000/0" in banner
    assert_no_secret(banner, "cluster banner")
