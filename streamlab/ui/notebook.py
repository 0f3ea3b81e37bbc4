"""What ``sl.connect()`` sets up in a notebook: the ``%redis`` magics and how a refused command shows.

The engine's ``backend.connect`` knows nothing of notebooks; the package face
``sl.connect()`` calls ``attach(client)`` here when it runs under IPython.
``%load_ext streamlab.ui.notebook`` does the same on a fresh ``connect()``.
"""

from __future__ import annotations

import redis
from IPython import get_ipython

from ..backend import Client, connect
from ..explain import explain
from . import magics


def attach(client: Client, shell=None) -> None:
    """Give the running IPython ``shell`` the ``%redis``/``%%redis`` magics on ``client`` and
    show a ``NOPERM`` raised in a cell as ``explain()``'s two lines, not a traceback.

    Under a fenced workshop user the first refused command would otherwise be a wall of
    redis-py frames; other exceptions keep their tracebacks. Outside IPython: nothing.
    """
    shell = shell or get_ipython()
    if shell is None:
        return
    magics.register(shell, client)
    shell.set_custom_exc((redis.exceptions.NoPermissionError,), _show_explained)


def _show_explained(shell, etype, value, tb, tb_offset=None) -> list[str]:
    print(explain(value))
    return []


def load_ipython_extension(shell) -> None:
    """``%load_ext streamlab.ui.notebook``: connect as ``sl.connect()`` does, magics included."""
    attach(connect(), shell)
