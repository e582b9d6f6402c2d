"""Prepare training photos: EXIF orientation, a centre crop to a square at the training
size, and a clear list of the photos refused, file by file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import N_, Part, TrainError, render

__all__ = ["MIN_PHOTOS", "Prepared", "TrainError", "dhash", "prepare", "sharpness", "square"]

MIN_SIDE = 384  # smaller photos are upscaled mush at 512²
MIN_PHOTOS = 4
BLUR_THRESHOLD = 100.0  # variance of the Laplacian on the 512² grey image; sharp photos: 300+
DUPLICATE_BITS = 6  # dHash Hamming distance at or under which two photos are the same shot
EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp"}


@dataclass
class Prepared:
    images: list[Any]  # PIL, RGB, size × size
    files: list[str]
    rejected: list[tuple[str, Part]]  # (file, why: a template and its values)

    def parts(self) -> list[Part]:
        """The report as lines for `core.errors.render` (English, or the admin's language)."""
        lines: list[Part] = [(N_("{count} photo(s) usable"), {"count": len(self.images)})]
        for name, (template, values) in self.rejected:
            lines.append((N_("  refused {name}: {why}"), {"name": name, "why": (template, values)}))
        return lines

    def report(self) -> str:
        return render(self.parts())


def sharpness(image: Any) -> float:
    """Variance of the Laplacian of the grey image: low means blurry."""
    import numpy as np

    g = np.asarray(image.convert("L"), dtype=np.float32)
    lap = (g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]) - 4 * g[1:-1, 1:-1]
    return float(lap.var())


def dhash(image: Any, size: int = 8) -> int:
    """A 64-bit difference hash: near-identical photos differ in a few bits."""
    import numpy as np
    from PIL import Image

    g = np.asarray(
        image.convert("L").resize((size + 1, size), Image.Resampling.BOX), dtype=np.int16
    )
    bits = (g[:, 1:] > g[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def square(image: Any, size: int) -> Any:
    from PIL import Image

    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return image.crop((left, top, left + side, top + side)).resize(
        (size, size), Image.Resampling.LANCZOS
    )


def prepare(
    folder: str | Path,
    size: int = 512,
    min_side: int = MIN_SIDE,
    blur_threshold: float = BLUR_THRESHOLD,
    min_photos: int = MIN_PHOTOS,
) -> Prepared:
    """Every photo in `folder` checked and cropped. Raises TrainError with the list when
    fewer than `min_photos` are usable."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    files = sorted(p for p in Path(folder).iterdir() if p.is_file())
    out = Prepared([], [], [])
    hashes: list[tuple[int, str]] = []
    for path in files:
        if path.suffix.lower() not in EXTENSIONS:
            out.rejected.append((path.name, (N_("not a JPEG, PNG or WebP photo"), {})))
            continue
        try:
            with Image.open(path) as raw:
                img = ImageOps.exif_transpose(raw).convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError):
            out.rejected.append((path.name, (N_("unreadable"), {})))
            continue
        if min(img.size) < min_side:
            out.rejected.append(
                (
                    path.name,
                    (
                        N_("too small ({width}×{height}; at least {least} px a side)"),
                        {"width": img.size[0], "height": img.size[1], "least": min_side},
                    ),
                )
            )
            continue
        cropped = square(img, size)
        sharp = sharpness(square(img, 512))
        if sharp < blur_threshold:
            why: dict[str, object] = {"sharp": round(sharp), "least": round(blur_threshold)}
            out.rejected.append((path.name, (N_("blurry (sharpness {sharp} < {least})"), why)))
            continue
        h = dhash(cropped)
        twin = next(
            (name for other, name in hashes if bin(h ^ other).count("1") <= DUPLICATE_BITS), None
        )
        if twin is not None:
            out.rejected.append((path.name, (N_("a near-duplicate of {twin}"), {"twin": twin})))
            continue
        hashes.append((h, path.name))
        out.images.append(cropped)
        out.files.append(path.name)
    if len(out.images) < min_photos:
        raise TrainError(
            N_("only {count} usable photo(s), at least {least} are needed"),
            *out.parts(),
            count=len(out.images),
            least=min_photos,
        )
    return out
