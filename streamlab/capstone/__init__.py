"""Lesson 07's capstone: the article's sensor pipeline, run from a notebook.

::

    cap = Capstone(r)           # 3 producers, group "workers" (w1, w2), group "alerts" (a1)
    cap.commands()              # the terminal commands it runs (the article's way)
    cap.start()                 # start everything at once, plus the reaper and the supervisor
    CapstonePanel(cap)          # live dashboard (from streamlab.ui); .show() draws it as a picture
    left = cap.kill("w1", holding=1)   # SIGKILL w1 while it holds work: the IDs it left pending
    cap.wait_finished(left)     # ...until the reaper (XAUTOCLAIM) has done them
    cap.restart("w1"); cap.add_worker("w3")   # a new run of w1 (status() keeps the killed run's row)
    cap.wait_drained()          # producers done, both groups caught up, nothing pending
    cap.stop()
    cap.ledger()                # produced = processed, alerts = readings above the threshold

What runs:

- producers: ``streamlab produce SENSOR`` (``XADD lesson07:sensors * ...``);
- workers: ``streamlab consume workers wN`` (``XREADGROUP GROUP workers wN ... >``,
  pretend work, ``XACK``);
- alerters: ``streamlab consume alerts aN --alert-above T`` (an entry hotter than
  ``T`` is copied to ``lesson07:alerts`` by one Lua script that checks the reading is still
  pending, writes the alert and ``XACK``s last, so at most one alert per reading and none
  lost; never one ``MULTI``/``EXEC``, which would write the alert even when ``XACK`` replies 0
  and keep the ``XACK`` when the write fails);
- a reaper (``recovery.Reaper``, on a thread here): ``XAUTOCLAIM`` takes over
  entries left idle by a dead worker, finishes them and acknowledges them;
- a supervisor thread (``supervisor``) that reads every member's output, notices
  exits, and samples both groups (``XINFO GROUPS``, ``XPENDING``, ``XLEN``) for the
  dashboard (``observe.Sampler``).

On a real server (any backend with a URL, the private server included) each
producer and consumer is its own OS process, started with
``python -m streamlab.cli produce|consume ...`` against ``REDIS_URL``, in
parallel (each takes about half a second to start). fakeredis lives inside
this Python process, where no other process can reach it, so there the same
programs (``programs.produce`` / ``programs.consume``) run on threads (``members``).

A call that Redis cannot answer (the server went away, say) raises
``PipelineError`` (a ``LearnerError``), whose message says what happened, what to
do, and what the failed call left behind; IPython shows that message without a traceback.

Nothing outlives its owner: ``stop()`` sends SIGINT (each program finishes the
entry in hand and exits 0) and SIGKILLs whatever is still alive after a
timeout. The supervisor is a ``streamlab`` worker, so re-running the cell
(same name), ``sl.reset()`` and ``workers.stop_all()`` stop the pipeline too;
an ``atexit`` hook stops it when the kernel exits, and on Linux every child also
gets ``PR_SET_PDEATHSIG`` (SIGTERM when the kernel dies, even by SIGKILL:
``procs.die_with_parent``).

Modules: ``members`` (one program as a process or a thread), ``supervisor``,
``ledger`` (the end-of-run accounts), ``orchestration`` (``Capstone``). The
dashboard, its figure and the ledger's coloured table live on the screen side:
``streamlab.ui.CapstonePanel``, ``streamlab.ui.figures.capstone``.
"""

from .ledger import Ledger
from .members import exit_status
from .orchestration import Capstone, PipelineError, backend_mode

__all__ = ["Capstone", "Ledger", "PipelineError", "backend_mode", "exit_status"]
