"""Translation to English behind one small protocol, and a router by source language.

Backends, chosen from the model itself (never from its name):
  * transformers: Marian / OPUS-MT (`Helsinki-NLP/opus-mt-tc-big-lv-en`, the default; one
    source language per model) or NLLB (M2M100 architecture; any language in `FLORES`),
    by `config.json`'s model_type;
  * CTranslate2: a converted copy of either (a dir with `model.bin`), int8 on CPU.
`Translators` picks the model for a language: `[models] translator` serves Latvian,
`[models] translators` maps other languages, and an NLLB model serves every FLORES language.
torch / transformers / ctranslate2 are imported lazily, only here; calls block, so the
service runs them in a thread.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from core.errors import ModelError
from core.hub import check_available
from core.lang.text import detect_language, sentences

log = logging.getLogger("zime.translate")

NLLB_SRC = "lvs_Latn"
NLLB_TGT = "eng_Latn"
# ISO 639-1 -> the FLORES-200 codes NLLB knows (the languages a Latvian bot plausibly meets).
FLORES = {
    "lv": "lvs_Latn",
    "ltg": "ltg_Latn",
    "ru": "rus_Cyrl",
    "lt": "lit_Latn",
    "et": "est_Latn",
    "de": "deu_Latn",
    "uk": "ukr_Cyrl",
    "be": "bel_Cyrl",
    "pl": "pol_Latn",
    "fi": "fin_Latn",
    "sv": "swe_Latn",
    "fr": "fra_Latn",
    "es": "spa_Latn",
    "it": "ita_Latn",
    "no": "nob_Latn",
    "da": "dan_Latn",
}
_META = "zime_translator.json"  # written into CTranslate2 dirs: which architecture it was
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "sentencepiece.bpe.model",
    "source.spm",
    "target.spm",
    "vocab.json",
)


@runtime_checkable
class Translator(Protocol):
    name: str

    def translate(self, texts: Sequence[str], src: str = "lv") -> list[str]:
        """Translate a batch of texts in language `src` (ISO 639-1) to English, in order.
        A single-language model (Marian) ignores `src`; `Translators` routes by it. The real
        translators also take `beams=` (fewer beams: faster, when the queue is long)."""
        ...


@dataclass(frozen=True)
class TranslateOptions:
    beams: int = 2
    max_tokens: int = 96
    no_repeat_ngram: int = 3
    repetition_penalty: float = 1.2


_REPEATS = re.compile(r"\b(\w+(?:\s+\w+){0,2})(?:[\s,]+\1\b)+", re.IGNORECASE)


def clean_output(text: str) -> str:
    """Collapse runs of a repeated word or short phrase ('a cat cat cat' -> 'a cat'); NLLB
    loops like that on very short inputs even with an n-gram guard."""
    text = _REPEATS.sub(r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def _max_new_tokens(n_input: int, options: TranslateOptions) -> int:
    # English is rarely more than twice as long as Latvian; the bound also stops loops early.
    return max(8, min(options.max_tokens, 2 * n_input + 8))


def _model_type(path: Path) -> str:
    meta = path / _META
    if meta.is_file():
        return str(json.loads(meta.read_text(encoding="utf-8"))["model_type"])
    cfg = path / "config.json"
    if cfg.is_file():
        return str(json.loads(cfg.read_text(encoding="utf-8")).get("model_type", ""))
    return ""


def is_ctranslate2_dir(path: str | Path) -> bool:
    p = Path(path)
    return (p / "model.bin").is_file() and not (p / "model.safetensors").exists()


class HFTranslator:
    """transformers seq2seq model (Marian or M2M100/NLLB) on CPU or CUDA, in fp32: fp16 saves
    nothing measurable on a CPU and risks NaNs in Marian's attention, and the translator is
    small next to the image model on a GPU."""

    takes_beams = True  # translate(…, beams=N): fewer beams when the queue is long

    def __init__(
        self,
        source: str,
        device: str = "cpu",
        options: TranslateOptions | None = None,
        cache_dir: str | None = None,
    ) -> None:
        self.options = options or TranslateOptions()
        self.name = source
        try:
            import torch
            from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer

            config = AutoConfig.from_pretrained(source, cache_dir=cache_dir)
            self.kind = config.model_type
            if self.kind not in ("marian", "m2m_100"):
                raise ModelError(f"{source}: unsupported translator model_type {self.kind!r}")
            extra = {"src_lang": NLLB_SRC, "tgt_lang": NLLB_TGT} if self.kind == "m2m_100" else {}
            self.tokenizer = AutoTokenizer.from_pretrained(source, cache_dir=cache_dir, **extra)
            self.model = AutoModelForSeq2SeqLM.from_pretrained(
                source, cache_dir=cache_dir, dtype=torch.float32
            ).eval()
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"cannot load translator {source!r}: {exc}") from exc
        self.device = "cuda" if device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
        self.model.to(self.device)
        self._torch = torch
        self._lock = threading.Lock()  # one generate() at a time per model
        log.info("translator %s on %s, float32", source, self.device)

    @property
    def multilingual(self) -> bool:
        return bool(self.kind == "m2m_100")

    def translate(
        self, texts: Sequence[str], src: str = "lv", beams: int | None = None
    ) -> list[str]:
        if not texts:
            return []
        if self.multilingual:
            self.tokenizer.src_lang = FLORES.get(src, NLLB_SRC)
        batch = self.tokenizer(
            list(texts), return_tensors="pt", padding=True, truncation=True, max_length=256
        ).to(self.device)
        kwargs: dict[str, Any] = {}
        if self.kind == "m2m_100":
            kwargs["forced_bos_token_id"] = self.tokenizer.convert_tokens_to_ids(NLLB_TGT)
        o = self.options
        with self._lock, self._torch.inference_mode():
            out = self.model.generate(
                **batch,
                num_beams=beams or o.beams,
                do_sample=False,
                max_new_tokens=_max_new_tokens(batch["input_ids"].shape[1], o),
                no_repeat_ngram_size=o.no_repeat_ngram,
                repetition_penalty=o.repetition_penalty,
                **kwargs,
            )
        decoded = self.tokenizer.batch_decode(out, skip_special_tokens=True)
        return [clean_output(t) for t in decoded]


class CT2Translator:
    """A CTranslate2 conversion of a Marian or NLLB model (int8 on CPU, fp16 on CUDA)."""

    takes_beams = True  # translate(…, beams=N): fewer beams when the queue is long

    def __init__(
        self, source: str, device: str = "cpu", options: TranslateOptions | None = None
    ) -> None:
        self.options = options or TranslateOptions()
        self.name = source
        path = Path(source)
        self.kind = _model_type(path)
        try:
            import ctranslate2
            from transformers import AutoTokenizer

            use_cuda = device in ("auto", "cuda") and ctranslate2.get_cuda_device_count() > 0
            self.translator = ctranslate2.Translator(
                str(path),
                device="cuda" if use_cuda else "cpu",
                compute_type="int8_float16" if use_cuda else "int8",
                inter_threads=1,
                # CTranslate2's default of 4 threads oversubscribes small CPUs (measured in
                # benchmarks/translate.py: 493 -> 447 ms p50 on 2 cores)
                intra_threads=0 if use_cuda else (os.cpu_count() or 1),
            )
            extra = {"src_lang": NLLB_SRC, "tgt_lang": NLLB_TGT} if self.kind == "m2m_100" else {}
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), **extra)
        except Exception as exc:
            raise ModelError(f"cannot load CTranslate2 translator {source!r}: {exc}") from exc

    @property
    def multilingual(self) -> bool:
        return self.kind == "m2m_100"

    def translate(
        self, texts: Sequence[str], src: str = "lv", beams: int | None = None
    ) -> list[str]:
        if not texts:
            return []
        if self.multilingual:
            self.tokenizer.src_lang = FLORES.get(src, NLLB_SRC)
        tokens = [self.tokenizer.convert_ids_to_tokens(self.tokenizer.encode(t)) for t in texts]
        prefix = [[NLLB_TGT] for _ in texts] if self.kind == "m2m_100" else None
        o = self.options
        results = self.translator.translate_batch(
            tokens,
            target_prefix=prefix,
            beam_size=beams or o.beams,
            max_decoding_length=_max_new_tokens(max(len(t) for t in tokens), o),
            no_repeat_ngram_size=o.no_repeat_ngram,
            repetition_penalty=o.repetition_penalty,
        )
        out = []
        for r in results:
            hyp = r.hypotheses[0]
            if prefix and hyp and hyp[0] == NLLB_TGT:
                hyp = hyp[1:]
            ids = self.tokenizer.convert_tokens_to_ids(hyp)
            out.append(clean_output(str(self.tokenizer.decode(ids, skip_special_tokens=True))))
        return out


class CachedTranslator:
    """LRU cache in front of any Translator; chat prompts repeat a lot (rerolls, retries)."""

    def __init__(self, inner: Translator, size: int = 1024) -> None:
        self.inner = inner
        self.name = inner.name
        self.takes_beams = bool(getattr(inner, "takes_beams", False))
        self.multilingual = bool(getattr(inner, "multilingual", False))
        self.size = size
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def translate(
        self, texts: Sequence[str], src: str = "lv", beams: int | None = None
    ) -> list[str]:
        with self._lock:
            found = {
                t: self._cache[(src, t)] for t in dict.fromkeys(texts) if (src, t) in self._cache
            }
            for t in found:
                self._cache.move_to_end((src, t))
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            extra = {"beams": beams} if beams and self.takes_beams else {}
            fresh = dict(zip(missing, self.inner.translate(missing, src, **extra), strict=True))
            found.update(fresh)
            with self._lock:
                for text, english in fresh.items():
                    self._cache[(src, text)] = english
                    if len(self._cache) > self.size:
                        self._cache.popitem(last=False)
        return [found[t] for t in texts]


class IdentityTranslator:
    """Returns the text unchanged: the honest fake for tests and `--no-translate` runs."""

    name = "identity"

    def translate(self, texts: Sequence[str], src: str = "lv") -> list[str]:
        return list(texts)


class Translators:
    """Which translator serves which source language.

    `by_lang` maps ISO codes to models (Marian ones serve only their language); a
    multilingual model (NLLB) among them also serves every other language in `FLORES`."""

    def __init__(self, by_lang: dict[str, Translator] | None = None) -> None:
        self.by_lang = dict(by_lang or {})
        self.any_lang = next(
            (t for t in self.by_lang.values() if getattr(t, "multilingual", False)), None
        )

    @classmethod
    def single(cls, translator: Translator | None, lang: str = "lv") -> Translators:
        return cls({lang: translator} if translator is not None else {})

    def for_lang(self, lang: str) -> Translator | None:
        if lang in self.by_lang:
            return self.by_lang[lang]
        return self.any_lang if lang in FLORES else None

    def supports(self, lang: str) -> bool:
        return self.for_lang(lang) is not None

    @property
    def name(self) -> str:
        return ", ".join(f"{lang}={t.name}" for lang, t in self.by_lang.items()) or "none"


def load_translator(
    source: str,
    device: str = "cpu",
    options: TranslateOptions | None = None,
    cache_dir: str | None = None,
) -> Translator:
    """Load a translator from a local dir or hub id; a CTranslate2 dir gets the CT2 backend.

    When `source` is an HF dir and a sibling `<dir>-ct2` conversion exists, that faster copy
    is used instead (see `convert_to_ctranslate2`)."""
    path = Path(source).expanduser()
    ct2_sibling = path.with_name(path.name + "-ct2")
    if (
        path.is_dir()
        and not is_ctranslate2_dir(path)
        and is_ctranslate2_dir(ct2_sibling)
        and (ct2_sibling / _META).is_file()  # made by convert_to_ctranslate2, tokenizer included
    ):
        path = ct2_sibling
    if not path.exists():
        check_available(source, "translator", cache_dir=cache_dir)
    if is_ctranslate2_dir(path):
        inner: Translator = CT2Translator(str(path), device, options)
    else:
        inner = HFTranslator(str(path) if path.exists() else source, device, options, cache_dir)
    return CachedTranslator(inner)


def convert_to_ctranslate2(
    source: str | Path, target: str | Path, quantization: str = "int8"
) -> Path:
    """Convert a Marian/NLLB model dir to CTranslate2 and copy its tokenizer files along."""
    from ctranslate2.converters import TransformersConverter

    src, dst = Path(source), Path(target)
    kind = _model_type(src)
    if kind not in ("marian", "m2m_100"):
        raise ModelError(f"{src}: cannot convert model_type {kind!r} (want marian or m2m_100)")
    TransformersConverter(str(src)).convert(str(dst), quantization=quantization, force=True)
    for name in _TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
    (dst / _META).write_text(json.dumps({"model_type": kind, "source": str(src)}), encoding="utf-8")
    return dst


def plan_translation(source: str) -> list[list[tuple[str, bool]]]:
    """A source as its sentences, each as (text, needs the translator): the whole sentence,
    or, when some comma-joined phrase of it is English already ("Rīgas doms, at sunset,
    ļoti mierīgs"), its phrases, the English ones kept as written."""
    plan = []
    for sentence in sentences(source) or [source]:
        phrases = [p.strip() for p in sentence.split(",") if p.strip()]
        english = [
            len(p.split()) >= 2 and p.isascii() and detect_language(p) == "en" for p in phrases
        ]
        if len(phrases) > 1 and any(english) and not all(english):
            plan.append([(p, not e) for p, e in zip(phrases, english, strict=True)])
        else:
            plan.append([(sentence, True)])
    return plan


def join_translation(plan: list[list[tuple[str, bool]]], translated: Iterator[str]) -> str:
    """The plan's sentences with their translations in place, joined again."""
    out = []
    for sentence in plan:
        out.append(
            ", ".join(next(translated, text) if translate else text for text, translate in sentence)
        )
    return " ".join(s.strip() for s in out if s.strip())
