"""The course's figures, one module per topic, all drawn without pyplot (``style.figure``).

``latency`` (lesson 02: XADD to XREAD), ``pool`` (03: lag, ordering, the live pool
figure), ``chaos`` (04), ``retention`` (05), ``pubsub`` (06), ``capstone`` (07),
``durability`` (08), ``cluster`` (09), ``board`` (the instructor's progress board).
"""

from . import board, capstone, chaos, cluster, durability, latency, pool, pubsub, retention

__all__ = ["board", "capstone", "chaos", "cluster", "durability", "latency", "pool", "pubsub", "retention"]
