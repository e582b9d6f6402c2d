"""Redrawing a region of a picture (issue #31): the mask a user paints (white is redrawn),
the pixels kept outside it, and zoom-out's larger canvas. Pure Pillow, blocking: call in a
thread.

Outside the mask the picture is kept exactly: after drawing, the original is pasted back
through the mask blurred by `BLUR_PX` (scaled to the picture: 8 px on a 512 px side), so the
edge blends over at most 3 × that beyond the painted region (24 px at 512) and every pixel
farther out is the original's."""

from __future__ import annotations

import io
from typing import Any

from core.errors import BadMask

BLUR_PX = 8.0  # at a 512 px side
MAX_MASK_BYTES = 2 * 1024 * 1024
ZOOM = 1.5  # 🔭: each side of the canvas, against the picture's


def read_mask(data: bytes, size: tuple[int, int]) -> Any:
    """A painted mask as black and white ("L", 0 or 255): a PNG of `size` in any colour
    mode, white (luminance ≥ 128) redrawn. Raises BadMask: not a PNG, another size, or
    nothing painted."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_MASK_BYTES:
        raise BadMask("too_big")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "PNG":
                raise BadMask("format")
            if img.size != tuple(size):
                raise BadMask("size", img.size, size)
            img.load()
            flat: Any = img
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                flat = Image.new("RGB", img.size, (0, 0, 0))  # transparent: not painted
                flat.paste(img.convert("RGBA"), mask=img.convert("RGBA").getchannel("A"))
            mask = flat.convert("L").point(lambda v: 255 if v >= 128 else 0)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise BadMask("format") from exc
    if mask.getbbox() is None:
        raise BadMask("empty")
    return mask


def soft_mask(mask: Any) -> Any:
    """The mask with its edge blurred (reach scaled to the picture's longer side)."""
    from PIL import ImageFilter

    radius = BLUR_PX * max(mask.size) / 512
    return mask.convert("L").filter(ImageFilter.GaussianBlur(radius))


def paste_back(drawn: Any, original: Any, mask: Any) -> Any:
    """`drawn` inside the (blurred) mask, `original` everywhere else, exactly."""
    from PIL import Image

    size = drawn.size
    original = original.convert("RGB")
    if original.size != size:
        original = original.resize(size)
    soft = soft_mask(mask.resize(size) if mask.size != size else mask)
    return Image.composite(drawn.convert("RGB"), original, soft)


def paste_back_files(drawn: Any, original_path: str, mask_path: str) -> Any:
    from PIL import Image

    with Image.open(original_path) as original, Image.open(mask_path) as mask:
        return paste_back(drawn, original, mask.convert("L"))


def zoom_canvas(picture: Any, max_side: int) -> tuple[Any, Any]:
    """🔭: the picture in the middle of a canvas `ZOOM` times larger each side (multiples of
    8; past `max_side`, the largest canvas of the same aspect within it, the picture shrunk),
    the border started from the picture stretched and blurred. Returns (canvas, mask): the
    mask is white on the border, which is drawn, and black over the picture, which is kept."""
    from PIL import Image, ImageFilter

    w, h = picture.size
    width, height = round(w * ZOOM / 8) * 8, round(h * ZOOM / 8) * 8
    if max(width, height) > max_side:
        scale = max_side / max(width, height)
        width, height = int(width * scale) // 8 * 8, int(height * scale) // 8 * 8
    inner = (round(width / ZOOM), round(height / ZOOM))
    picture = picture.convert("RGB")
    small = picture if inner == (w, h) else picture.resize(inner, Image.Resampling.LANCZOS)
    canvas = picture.resize((width, height)).filter(ImageFilter.GaussianBlur(width / 16))
    box = ((width - inner[0]) // 2, (height - inner[1]) // 2)
    canvas.paste(small, box)
    mask = Image.new("L", (width, height), 255)
    mask.paste(0, (*box, box[0] + inner[0], box[1] + inner[1]))
    return canvas, mask
