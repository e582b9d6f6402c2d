"""Translation latency on this CPU: transformers fp32 vs CTranslate2 int8, for the real
OPUS-MT-big and NLLB-600M/1.3B architectures with random weights (real weights cannot be
downloaded here). Output length is forced, so both backends do the same work.

    python -m benchmarks.translate [--quick] [--arch opus-big nllb-600m nllb-1.3b]

Prints p50/p95 latency per prompt, prompts/s, and `speedup <arch> <x>` lines.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROMPTS = [
    "kaķis uz jumta",
    "suns parkā pie upes",
    "Rīgas balzama pudele uz galda",
    "saulriets pie jūras ziemā",
    "sarkana māja mežā",
    "meitene ar ziediem pļavā",
    "vecs tilts pār Daugavu naktī",
    "zēns ēd piparkūkas virtuvē",
    "sniegs un egles kalnos",
    "zils putns lido debesīs",
    "vecā Rīga miglā",
    "laiva ezerā rudenī",
    "liela pils kalna galā",
    "kosmonauts uz Mēness",
    "pūķis virs pilsētas",
    "lācis mežā ar medus podu",
    "tramvajs lietainā ielā",
    "vecmāmiņa ada cimdus",
    "jūrmalas pludmale vasarā",
    "zemnieks ar zirgu laukā",
    "meža ezers rītausmā",
    "bērni cep maizi",
    "lapsa sniegā",
    "zvejnieku ciems pie jūras",
    "balts kuģis ostā",
    "vējdzirnavas pļavā",
    "eglīte ar svecītēm",
    "vakariņas pie galda ar ģimeni",
    "mākoņi pār laukiem",
    "ugunskurs Jāņu naktī",
    "sarkans velosipēds pie sētas",
    "vecs koka baznīcas tornis",
    "puķu tirgus pilsētas centrā",
    "kaķēni grozā",
    "kalnu ceļš rudens krāsās",
    "mēness pār jūru",
    "bites pie ziediem",
    "rudzu lauks pirms lietus",
    "mazs zēns ar pūķi",
    "ziemas pasaka mežā",
    "zirgs auļo pa pludmali",
    "sniegavīrs pagalmā",
    "kafija un grāmata pie loga",
    "pērkona negaiss virs ezera",
    "dzērves lido dienvidu virzienā",
    "siena kaudze laukā",
    "saulespuķes pie mājas",
    "vecs dzirnavu rats",
    "putnu barotava ziemā",
    "bērzu birze pavasarī",
]


@dataclass(frozen=True)
class Arch:
    name: str
    kind: str  # marian | m2m_100
    d_model: int
    layers: int
    ffn: int
    heads: int
    vocab: int


ARCHS = {
    # Helsinki-NLP/opus-mt-tc-big-lv-en (transformer-big); vocab rounded
    "opus-big": Arch("opus-big", "marian", 1024, 6, 4096, 16, 57000),
    "nllb-600m": Arch("nllb-600m", "m2m_100", 1024, 12, 4096, 16, 256206),
    "nllb-1.3b": Arch("nllb-1.3b", "m2m_100", 1024, 24, 8192, 16, 256206),
}
QUICK = Arch("opus-big-2layer", "marian", 1024, 2, 4096, 16, 8000)


def build(arch: Arch, tiny: dict[str, Path], out: Path) -> Path:
    """A model dir with the architecture's shapes, random weights and a usable tokenizer."""
    import torch
    from transformers import (
        M2M100Config,
        M2M100ForConditionalGeneration,
        MarianConfig,
        MarianMTModel,
    )

    torch.manual_seed(0)
    dims: dict[str, Any] = dict(
        d_model=arch.d_model,
        encoder_layers=arch.layers,
        decoder_layers=arch.layers,
        encoder_ffn_dim=arch.ffn,
        decoder_ffn_dim=arch.ffn,
        encoder_attention_heads=arch.heads,
        decoder_attention_heads=arch.heads,
        max_position_embeddings=1024,
    )
    if arch.kind == "marian":
        shutil.copytree(tiny["opus"], out)
        vocab = json.loads((out / "vocab.json").read_text(encoding="utf-8"))
        vocab.pop("<pad>")
        for i in range(arch.vocab - len(vocab) - 1):  # pad the vocabulary to the real size
            vocab[f"<extra_{i}>"] = len(vocab)
        vocab["<pad>"] = len(vocab)
        (out / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
        (out / "tokenizer_config.json").unlink()  # its added-token ids refer to the old vocab
        from transformers import MarianTokenizer

        MarianTokenizer(
            str(out / "source.spm"), str(out / "target.spm"), str(out / "vocab.json")
        ).save_pretrained(out)
        config: Any = MarianConfig(
            vocab_size=len(vocab),
            pad_token_id=vocab["<pad>"],
            eos_token_id=0,
            decoder_start_token_id=vocab["<pad>"],
            **dims,
        )
        model: Any = MarianMTModel(config)
    else:
        shutil.copytree(tiny["nllb"], out)
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(out)
        config = M2M100Config(
            vocab_size=arch.vocab,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            decoder_start_token_id=tok.eos_token_id,
            scale_embedding=True,
            **dims,
        )
        model = M2M100ForConditionalGeneration(config)
    for name in ("model.safetensors", "config.json", "generation_config.json"):
        (out / name).unlink(missing_ok=True)
    model.save_pretrained(out)
    return out


CPU_THREADS = os.cpu_count() or 1  # CTranslate2 defaults to 4 threads: too many on 2 cores


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def bench_hf(
    path: Path, kind: str, prompts: list[str], out_len: int, beams: int = 1
) -> list[float]:
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    torch.set_num_threads(torch.get_num_threads())
    extra = {"src_lang": "lvs_Latn"} if kind == "m2m_100" else {}
    tok = AutoTokenizer.from_pretrained(path, **extra)
    model = AutoModelForSeq2SeqLM.from_pretrained(path).eval()
    kwargs: dict[str, Any] = {}
    if kind == "m2m_100":
        kwargs["forced_bos_token_id"] = tok.convert_tokens_to_ids("eng_Latn")
    times = []
    with torch.inference_mode():
        for p in prompts:
            batch = tok([p], return_tensors="pt")
            t0 = time.perf_counter()
            model.generate(
                **batch,
                num_beams=beams,
                do_sample=False,
                min_new_tokens=out_len,
                max_new_tokens=out_len,
                **kwargs,
            )
            times.append(time.perf_counter() - t0)
    return times


def bench_ct2(
    path: Path, kind: str, prompts: list[str], out_len: int, beams: int = 1
) -> list[float]:
    import ctranslate2
    from transformers import AutoTokenizer

    extra = {"src_lang": "lvs_Latn"} if kind == "m2m_100" else {}
    tok = AutoTokenizer.from_pretrained(path, **extra)
    translator = ctranslate2.Translator(
        str(path), device="cpu", compute_type="int8", inter_threads=1
    )
    prefix = [["eng_Latn"]] if kind == "m2m_100" else None
    extra_len = 1 if prefix else 0
    times = []
    for p in prompts:
        tokens = [tok.convert_ids_to_tokens(tok.encode(p))]
        t0 = time.perf_counter()
        translator.translate_batch(
            tokens,
            target_prefix=prefix,
            beam_size=beams,
            min_decoding_length=out_len + extra_len,
            max_decoding_length=out_len + extra_len,
        )
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick", action="store_true", help="2-layer OPUS-MT-big, 10 prompts (< 1 min)"
    )
    ap.add_argument("--arch", nargs="*", default=list(ARCHS), choices=list(ARCHS))
    ap.add_argument("--out-len", type=int, default=20, help="forced output length in tokens")
    ap.add_argument(
        "--beams",
        type=int,
        default=1,
        help="beam size (the bot's default is [models] translate_beams = 2)",
    )
    args = ap.parse_args()
    from core.draw.tiny import build_tiny_models
    from core.lang.translate import convert_to_ctranslate2

    archs = [QUICK] if args.quick else [ARCHS[a] for a in args.arch]
    prompts = PROMPTS[:10] if args.quick else PROMPTS
    out_len = 16 if args.quick else args.out_len
    import torch

    print(
        f"cpu threads {torch.get_num_threads()}, {len(prompts)} prompts, output {out_len} "
        f"tokens, beams {args.beams}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tiny = build_tiny_models(root / "tiny")
        for arch in archs:
            t0 = time.perf_counter()
            hf_dir = build(arch, tiny, root / arch.name)
            ct2_dir = convert_to_ctranslate2(hf_dir, root / f"{arch.name}-ct2")
            setup = time.perf_counter() - t0
            results = {}
            for backend, fn, path in (
                ("transformers-fp32", bench_hf, hf_dir),
                ("ctranslate2-int8", bench_ct2, ct2_dir),
            ):
                fn(path, arch.kind, prompts[:2], out_len, args.beams)  # warm-up
                times = fn(path, arch.kind, prompts, out_len, args.beams)
                results[backend] = times
                print(
                    f"{arch.name:16} {backend:18} p50 {pct(times, 50) * 1000:7.1f} ms  "
                    f"p95 {pct(times, 95) * 1000:7.1f} ms  "
                    f"{len(times) / sum(times):6.2f} prompts/s"
                )
            speedup = statistics.median(results["transformers-fp32"]) / statistics.median(
                results["ctranslate2-int8"]
            )
            print(f"speedup {arch.name} {speedup:.2f}")
            print(f"(setup: build + convert {setup:.0f} s)")
            shutil.rmtree(hf_dir)
            shutil.rmtree(ct2_dir)


if __name__ == "__main__":
    main()
