"""Teaching a new concept (issue #15) on tiny models: photos, training, scoring, install."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.train.photos import TrainError, prepare


def photo(path: Path, seed: int, size: tuple[int, int] = (480, 400), blur: float = 0.0,
          exif_rotate: bool = False) -> Path:  # fmt: skip
    """A sharp, distinct synthetic photo: coloured blocks of a seed-dependent pattern."""
    import numpy as np
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (size[1] // 16, size[0] // 16, 3), dtype=np.uint8)
    img = Image.fromarray(blocks).resize(size, Image.Resampling.NEAREST)
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    exif = Image.Exif()
    if exif_rotate:
        exif[0x0112] = 6  # rotated: the photo is taller than it is stored
    img.save(path, exif=exif)
    return path


def photo_set(folder: Path, n: int = 4) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        photo(folder / f"p{i}.jpg", i, exif_rotate=i == 0)
    return folder


def test_bad_photo_sets_get_a_clear_list(tmp_path: Path) -> None:
    folder = photo_set(tmp_path / "photos", 3)
    photo(folder / "small.jpg", 10, size=(300, 200))
    photo(folder / "blurry.jpg", 11, blur=12)
    (folder / "dup.png").write_bytes((folder / "p1.jpg").read_bytes())
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    (folder / "notes.txt").write_text("x")
    with pytest.raises(TrainError) as err:
        prepare(folder)
    text = str(err.value)
    assert "only 3 usable photo(s), at least 4" in text
    for name, why in [("small.jpg", "too small"), ("blurry.jpg", "blurry"),
                      ("p1.jpg", "a near-duplicate of dup.png"), ("broken.jpg", "unreadable"),
                      ("notes.txt", "not a JPEG")]:  # fmt: skip
        assert f"refused {name}: {why}" in text
    photo(folder / "p3.jpg", 3)
    ready = prepare(folder, size=64)
    assert len(ready.images) == 4 and ready.images[0].size == (64, 64)
    assert ready.files == ["dup.png", "p0.jpg", "p2.jpg", "p3.jpg"]
