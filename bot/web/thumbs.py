"""Thumbnails for the pages: a small JPEG made once beside the PNG (`<id>.thumb.jpg`)."""

from __future__ import annotations

import io
import os
import tempfile
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
    # Each request writes its own temporary file and renames it into place: many first
    # requests at once each make it whole, and the last rename wins (same bytes).
    fd, tmp = tempfile.mkstemp(prefix=small.name + ".", suffix=".tmp", dir=small.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, small)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return data
