"""Thumbnails for the pages: a small JPEG made once beside the PNG (`<id>.thumb.jpg`)."""

from __future__ import annotations

import io
from pathlib import Path

THUMB_SIDE = 192


def thumbnail(path: str) -> bytes:
    """The thumbnail of the PNG at `path` (blocking: call it off the event loop)."""
    from PIL import Image

    png = Path(path)
    small = png.with_name(png.stem + ".thumb.jpg")
    if small.is_file() and small.stat().st_mtime >= png.stat().st_mtime:
        return small.read_bytes()
    with Image.open(png) as opened:
        img = opened.convert("RGB")
    img.thumbnail((THUMB_SIDE, THUMB_SIDE))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=80)
    data = out.getvalue()
    tmp = small.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(small)  # whole or not at all: two requests may make it at once
    return data
