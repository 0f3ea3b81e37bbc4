"""Draw docs/img/panel-family.png: the course's panels side by side, as a learner sees them.

Runs each panel briefly on fakeredis (no server needed), takes the picture each one
shows (the same bytes its image widget gets, drawn at twice the page width), and
lays them out in one image with a caption per panel, at their page size. Used by
docs/VISUAL.md; run it again after changing the look:

    .venv/bin/python tools/visual_family.py
"""

from __future__ import annotations

import io
import pathlib
import sys

import PIL.Image
import PIL.ImageDraw
import PIL.ImageFont

import streamlab as sl
from streamlab.ui import ChaosPanel, ConsumerPoolPanel, PubSubPanel, figures, style

OUT = pathlib.Path(__file__).resolve().parent.parent / "docs" / "img" / "panel-family.png"
PAGE_PX = 1000  # the width of the composed image: about a notebook's column at 1280x720


def _pictures(r) -> list[tuple[str, bytes]]:
    pool = ConsumerPoolPanel(r, "visual:sensors", "workers", consumers=3, rate=300,
                             processing="one-slow", ms=4, start_id="0", name="visual:pool")
    chaos = ChaosPanel(r, prefix="visual:chaos:", entries=400, crash_probability=0.1, seed=1)
    pubsub = PubSubPanel(r, prefix="visual:", rate=40)
    try:
        pool.run_for(6)
        chaos.run_until_done(timeout=60)
        pubsub.start()
        pubsub.publisher.sleep(1.0)
        pubsub.take_offline()
        pubsub.publisher.sleep(1.0)
        pubsub.bring_back()
        pubsub.publisher.sleep(1.0)
        pubsub.stop()
        return [("Lesson 03: consumer pool (live dashboard)", pool.figure.picture("PNG")),
                ("Lesson 04: chaos panel", bytes(chaos.image.value)),
                ("Lesson 06: Pub/Sub vs Streams panel", bytes(pubsub.image.value)),
                ("Lesson 03: ordering figure", style.to_png(figures.pool.ordering_figure(pool.pool.ordering_frame()), 2))]
    finally:
        for panel in (pool, chaos, pubsub):
            panel.close()


def compose(pictures: list[tuple[str, bytes]]) -> PIL.Image.Image:
    font = PIL.ImageFont.load_default(size=22) if hasattr(PIL.ImageFont, "load_default") else None
    tiles = []
    for caption, data in pictures:
        image = PIL.Image.open(io.BytesIO(data)).convert("RGB")
        scale = min(0.5, PAGE_PX / image.width)  # pictures are drawn at twice their page size
        image = image.resize((round(image.width * scale), round(image.height * scale)), PIL.Image.LANCZOS)
        tiles.append((caption, image))
    height = sum(image.height + 50 for _, image in tiles) + 10
    sheet = PIL.Image.new("RGB", (PAGE_PX + 20, height), "white")
    draw = PIL.ImageDraw.Draw(sheet)
    y = 10
    for caption, image in tiles:
        draw.text((10, y), caption, fill=style.MUTED, font=font)
        sheet.paste(image, (10, y + 36))
        y += image.height + 50
    return sheet


def main() -> int:
    r = sl.connect(backend="fake", quiet=True)
    sheet = compose(_pictures(r))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(OUT, optimize=True)
    print(f"wrote {OUT} ({sheet.width}x{sheet.height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
