from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from core.errors import ModelError
from core.lang.translate import (
    CachedTranslator,
    CT2Translator,
    HFTranslator,
    clean_output,
    convert_to_ctranslate2,
    is_ctranslate2_dir,
    load_translator,
)


@pytest.mark.parametrize(("name", "kind"), [("nllb", "m2m_100"), ("opus", "marian")])
def test_hf_backend_on_tiny_models(tiny_models: dict[str, Path], name: str, kind: str) -> None:
    t = HFTranslator(str(tiny_models[name]))
    assert t.kind == kind
    out = t.translate(["kaķis uz jumta", "suns parkā", "kaķis uz jumta"])
    assert len(out) == 3 and all(isinstance(s, str) for s in out)
    assert out[0] == out[2]  # greedy/beam decoding is deterministic


@pytest.mark.parametrize("name", ["nllb", "opus"])
def test_ctranslate2_conversion_and_backend(
    tiny_models: dict[str, Path], tmp_path: Path, name: str
) -> None:
    dst = convert_to_ctranslate2(tiny_models[name], tmp_path / f"{name}-ct2")
    assert is_ctranslate2_dir(dst)
    assert json.loads((dst / "zime_translator.json").read_text())["model_type"] in (
        "m2m_100",
        "marian",
    )
    t = CT2Translator(str(dst))
    out = t.translate(["kaķis uz jumta", "Rīgas balzama pudele"])
    assert len(out) == 2 and all(isinstance(s, str) for s in out)
    # load_translator picks the CTranslate2 backend for a converted dir
    loaded = load_translator(str(dst))
    assert isinstance(loaded, CachedTranslator) and isinstance(loaded.inner, CT2Translator)


def test_load_translator_prefers_a_ct2_sibling(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    import shutil

    src = tmp_path / "opus"
    shutil.copytree(tiny_models["opus"], src)
    loaded = load_translator(str(src))
    assert isinstance(loaded, CachedTranslator) and isinstance(loaded.inner, HFTranslator)
    convert_to_ctranslate2(src, tmp_path / "opus-ct2")
    loaded = load_translator(str(src))
    assert isinstance(loaded, CachedTranslator) and isinstance(loaded.inner, CT2Translator)


def test_unreachable_hub_id_fails_fast_and_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="cannot be reached"):
        load_translator("nobody/no-such-model-zime")


def test_cache_hits_and_lru_eviction() -> None:
    class Counting:
        name = "counting"

        def __init__(self) -> None:
            self.seen: list[str] = []

        def translate(self, texts: Sequence[str], src: str = "lv") -> list[str]:
            self.seen.extend(texts)
            return [t.upper() for t in texts]

    inner = Counting()
    cache = CachedTranslator(inner, size=2)
    assert cache.translate(["a", "b", "a"]) == ["A", "B", "A"]
    assert cache.translate(["a"]) == ["A"]
    assert inner.seen == ["a", "b"] and cache.hits == 2
    cache.translate(["c"])  # evicts "b" (least recently used)
    cache.translate(["b"])
    assert inner.seen == ["a", "b", "c", "b"]


def test_repetition_is_collapsed() -> None:
    assert clean_output("a cat cat cat on the roof") == "a cat on the roof"
    assert clean_output("the bridge, the bridge, the bridge") == "the bridge"
    assert clean_output("good  food") == "good food"
