"""streamlab's screens: everything that imports ipywidgets, matplotlib or IPython.

The engine (``streamlab.*`` outside this package) returns data and frames and
never imports ``streamlab.ui``; the panels here are thin wiring around engine
workers. Lessons reach every panel one way, ``from streamlab.ui import ...``:

- ``ProducerPanel`` (``producer_panel``, lessons 01, 02, 05)
- ``ConsumerPoolPanel`` (``pool_panel``, lesson 03)
- ``ChaosPanel`` (``chaos_panel``, lesson 04)
- ``PubSubPanel`` (``pubsub_panel``, lesson 06)
- ``CapstonePanel`` (``capstone_panel``, lesson 07)
- ``DurabilityPanel`` (``durability_panel``, lesson 08)
- ``PartitionPanel`` (``cluster_panel``, lesson 09)
- ``BoardPanel`` (``board_panel``, the instructor's notebook)

all built on ``panel.Panel``. The figures, one module per topic: ``from streamlab.ui
import figures`` then ``figures.latency`` (lesson 02), ``figures.pool`` (03),
``figures.chaos`` (04), ``figures.retention`` (05), ``figures.pubsub`` (06),
``figures.capstone`` (07), ``figures.durability`` (08), ``figures.cluster`` (09),
``figures.board`` (the instructor's board).
"""
from . import figures
from .board_panel import BoardPanel
from .capstone_panel import CapstonePanel
from .chaos_panel import ChaosPanel
from .cluster_panel import PartitionPanel
from .durability_panel import DurabilityPanel
from .panel import Panel
from .pool_panel import ConsumerPoolPanel
from .producer_panel import ProducerPanel
from .pubsub_panel import PubSubPanel

__all__ = ["BoardPanel", "CapstonePanel", "ChaosPanel", "ConsumerPoolPanel", "DurabilityPanel", "Panel",
           "PartitionPanel", "ProducerPanel", "PubSubPanel", "figures"]
