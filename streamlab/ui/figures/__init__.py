"""The course's figures, one module per lesson, all drawn without pyplot (``style.figure``).

``pool`` (lesson 03: lag, ordering, the live pool figure), ``retention`` (05),
``capstone`` (07), ``durability`` (08), ``cluster`` (09).
"""

from . import capstone, cluster, durability, pool, retention

__all__ = ["capstone", "cluster", "durability", "pool", "retention"]
