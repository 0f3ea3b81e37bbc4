"""The course's figures, one module per lesson, all drawn without pyplot (``style.figure``).

``latency`` (lesson 02: XADD to XREAD), ``pool`` (03: lag, ordering, the live pool
figure), ``chaos`` (04), ``retention`` (05), ``pubsub`` (06), ``capstone`` (07),
``durability`` (08), ``cluster`` (09).
"""

from . import capstone, chaos, cluster, durability, latency, pool, pubsub, retention

__all__ = ["capstone", "chaos", "cluster", "durability", "latency", "pool", "pubsub", "retention"]
