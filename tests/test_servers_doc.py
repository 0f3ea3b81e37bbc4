"""docs/SERVERS.md's table is what the servers at hand do (tools/probe_servers.py writes it)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import probe_servers  # noqa: E402


@pytest.fixture(scope="module")
def probed():
    return probe_servers.probe_all(verbose=False)


def test_the_table_has_every_column_and_row():
    servers, cells = probe_servers.parse(probe_servers.DOC.read_text())
    assert list(servers) == list(probe_servers.COLUMNS)
    for column in probe_servers.COLUMNS:
        assert set(cells[column]) == set(probe_servers.rows()), column
        assert "?" not in cells[column].values(), f"{column} was never probed"


@pytest.mark.slow
def test_the_committed_table_matches_the_servers_at_hand(probed):
    servers, cells, columns = probed
    assert "fakeredis as 7.0" in columns and "fakeredis as 8.10" in columns  # always at hand
    committed_servers, committed = probe_servers.parse(probe_servers.DOC.read_text())
    for column in [*columns, "Redis 8.x (docs)"]:
        assert committed_servers[column] == servers[column], (
            f"docs/SERVERS.md says {column} was measured on {committed_servers[column]}, this "
            f"machine has {servers[column]}: run tools/probe_servers.py")
        differ = {row: (committed[column].get(row), value) for row, value in cells[column].items()
                  if not probe_servers.same(row, committed[column].get(row), value)}
        assert not differ, f"{column}: (committed, probed) {differ}; run tools/probe_servers.py"


@pytest.mark.slow
def test_no_server_at_hand_contradicts_behaviour(probed):
    _, cells, columns = probed
    for column in columns:
        for row in probe_servers.BEHAVIOUR_ROWS:
            assert "but measured" not in cells[column][row], (column, row, cells[column][row])
