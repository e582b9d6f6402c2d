"""Full-size check on random weights (issue #11): real SD 1.5 and OPUS-MT-big architectures,
laid out like the real repositories (fp32 and fp16 safetensors variants, safety checker),
run through Zīme's own commands.

    python -m benchmarks.fullsize DIR [--skip-build] [--steps 2]

Builds DIR/sd (UNet 320/640/1280/1280, CLIP-L text encoder, 4-channel VAE, CLIP ViT-L/14
safety checker) and DIR/opus (Marian d_model 1024, 6+6 layers, 57k vocabulary); about 8 GB
of disk and several minutes. Then reports, each in a fresh process:
  * the fetch plan for a CUDA and a CPU config (bytes that would be downloaded),
  * loading the UNet the old way (fp32 files cast to fp16) and the new way (fp16 variant):
    wall time and peak RSS,
  * `python -m core generate --steps N` on the CPU: wall time, peak RSS, the device line,
  * `python -m core prompt` through the OPUS-MT-big copy: wall time, peak RSS.
Not a test and not run by CI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def build_sd(out: Path) -> None:
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerAncestralDiscreteScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTokenizer,
        CLIPVisionConfig,
    )

    from core.draw.tiny import clip_vocabulary

    torch.manual_seed(0)
    vocab = clip_vocabulary(49408)  # CLIP-L's vocabulary size
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(  # CLIP ViT-L/14 text tower, as SD 1.5
            vocab_size=49408,
            hidden_size=768,
            intermediate_size=3072,
            num_attention_heads=12,
            num_hidden_layers=12,
            max_position_embeddings=77,
            projection_dim=768,
            bos_token_id=vocab["<|startoftext|>"],
            eos_token_id=vocab["<|endoftext|>"],
            pad_token_id=vocab["<|endoftext|>"],
        )
    )
    unet = UNet2DConditionModel(  # SD 1.5's UNet config
        sample_size=64,
        in_channels=4,
        out_channels=4,
        layers_per_block=2,
        block_out_channels=(320, 640, 1280, 1280),
        cross_attention_dim=768,
        attention_head_dim=8,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    )
    vae = AutoencoderKL(  # SD 1.5's VAE config
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        layers_per_block=2,
        sample_size=512,
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
    )
    safety = StableDiffusionSafetyChecker(
        CLIPConfig(
            text_config=CLIPTextConfig().to_dict(),
            vision_config=CLIPVisionConfig(
                hidden_size=1024,
                intermediate_size=4096,
                num_attention_heads=16,
                num_hidden_layers=24,
                patch_size=14,
                image_size=224,
            ).to_dict(),
            projection_dim=768,
        )
    )
    scheduler = EulerAncestralDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
    )
    pipe: Any = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=safety,
        feature_extractor=CLIPImageProcessor(crop_size=224),
        requires_safety_checker=True,
    )
    pipe.save_pretrained(out, safe_serialization=True)
    pipe.to(torch.float16)
    pipe.save_pretrained(out, safe_serialization=True, variant="fp16")


def build_opus(out: Path, work: Path) -> None:
    from benchmarks.translate import ARCHS, build
    from core.draw.tiny import build_tiny_models

    tiny = build_tiny_models(work / "tiny")
    build(ARCHS["opus-big"], tiny, out)


# Run a command and print its own peak RSS: RUSAGE_CHILDREN would mix every child so far.
_WRAP = """
import resource, runpy, sys
sys.argv = sys.argv[1:]
try:
    if sys.argv[0] == "-c":
        code = sys.argv[1]
        sys.argv = ["-c", *sys.argv[2:]]
        exec(compile(code, "<load>", "exec"), {"__name__": "__main__"})
    else:
        module = sys.argv[1]
        sys.argv = [module, *sys.argv[2:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
except SystemExit as exc:
    if exc.code:
        raise
finally:
    print(f"PEAK_RSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
"""


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (GB) and output of a child process (`cmd[0]` is Python)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [cmd[0], "-c", _WRAP, *cmd[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed:\n{proc.stderr[-3000:]}")
    peak_kb = int(proc.stderr.rsplit("PEAK_RSS_KB ", 1)[1].split()[0])
    return wall, peak_kb / 1e6, proc.stdout + proc.stderr


LOAD = """
import sys, time, torch
from diffusers import UNet2DConditionModel
t = time.perf_counter()
UNet2DConditionModel.from_pretrained(sys.argv[1], subfolder="unet", dtype=torch.float16,
                                     variant=sys.argv[2] or None)
print(time.perf_counter() - t)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dir")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    root = Path(args.dir)
    sd, opus = root / "sd", root / "opus"
    if not args.skip_build:
        started = time.perf_counter()
        build_sd(sd)
        with tempfile.TemporaryDirectory() as work:
            build_opus(opus, Path(work))
        print(f"built in {time.perf_counter() - started:.0f} s")

    from core.ops.fetch import RepoFile, human, plan_files

    files = [
        RepoFile(str(p.relative_to(sd)), p.stat().st_size) for p in sd.rglob("*") if p.is_file()
    ]
    print(f"sd dir: {human(sum(f.size for f in files))} in {len(files)} files")
    for label, fp16 in (("cuda", True), ("cpu", False)):
        plan = plan_files(files, fp16=fp16, safety_checker=True)
        print(f"fetch plan for {label}: {human(sum(f.size for f in plan))} ({len(plan)} files)")
    plan = plan_files(files, fp16=True, safety_checker=False)
    print(f"fetch plan for cuda, safety_checker = never: {human(sum(f.size for f in plan))}")

    for label, variant in (("fp16 variant", "fp16"), ("fp32 files cast to fp16", "")):
        wall, rss, out = run([sys.executable, "-c", LOAD, str(sd), variant])
        print(
            f"UNet load, {label}: {float(out.split()[0]):.1f} s load, "
            f"process {wall:.1f} s, peak RSS {rss:.1f} GB"
        )

    cfg = root / "cfg.toml"
    cfg.write_text(
        f'[models]\ngenerator = "{sd}"\ntranslator = "{opus}"\ndevice = "cpu"\n'
        'safety_checker = "always"\n',
        encoding="utf-8",
    )
    text = "Rainis sēž Melngalvju namā un ēd piparkūkas"
    wall, rss, out = run(
        [
            sys.executable,
            "-m",
            "core",
            "prompt",
            "--json",
            "--config",
            str(cfg),
            "--translator",
            str(opus),
            text,
        ]
    )
    print(f"core prompt (OPUS-MT big, fp32): {wall:.1f} s, peak RSS {rss:.1f} GB")
    print("  " + json.dumps(json.loads(out[out.index("{") :].splitlines()[0])["prompt"]))
    wall, rss, out = run(
        [
            sys.executable,
            "-m",
            "core",
            "generate",
            "Vanšu tilts saulrietā",
            "-o",
            str(root / "out.png"),
            "--config",
            str(cfg),
            "--seed",
            "1",
            "--steps",
            str(args.steps),
        ]
    )
    line = next(x for x in out.splitlines() if "image model" in x)
    print(
        f"core generate --steps {args.steps} (512x512, CPU): {wall:.1f} s, "
        f"peak RSS {rss:.1f} GB\n  {line}"
    )


if __name__ == "__main__":
    main()
