"""Images/s, seconds/image and peak VRAM for Stable Diffusion 1.5's real architecture
(UNet, VAE, CLIP text encoder with SD 1.5's shapes and random weights) at 512², 25 steps:
fp16 + SDPA, + channels_last, + torch.compile, batch 1/4/8, and a TAESD-style tiny VAE.

    python -m benchmarks.generate            # needs a CUDA GPU
    python -m benchmarks.generate --quick    # CPU, tiny models, < 1 minute

Random weights draw noise, but the arithmetic is the same as with the real checkpoint.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Variant:
    name: str
    batch: int
    channels_last: bool = False
    compile: bool = False
    tiny_vae: bool = False


FULL = [
    Variant("fp16+sdpa", 1),
    Variant("fp16+sdpa", 4),
    Variant("fp16+sdpa", 8),
    Variant("+channels_last", 1, channels_last=True),
    Variant("+channels_last", 8, channels_last=True),
    Variant("+compile", 1, channels_last=True, compile=True),
    Variant("+compile", 8, channels_last=True, compile=True),
    Variant("+compile+taesd", 8, channels_last=True, compile=True, tiny_vae=True),
]
QUICK = [
    Variant("fp32 cpu tiny", 1),
    Variant("fp32 cpu tiny", 4),
    Variant("tiny+taesd", 4, tiny_vae=True),
]


def sd15_pipeline(tokenizer_dir: Path) -> Any:
    """StableDiffusionPipeline with SD 1.5's component shapes and random weights."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerAncestralDiscreteScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        layers_per_block=2,
        block_out_channels=(320, 640, 1280, 1280),
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        cross_attention_dim=768,
        attention_head_dim=8,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        layers_per_block=2,
        sample_size=512,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(128, 256, 512, 512),
    )
    text = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=49408,
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            max_position_embeddings=77,
            hidden_act="quick_gelu",
        )
    )
    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_dir)
    scheduler = EulerAncestralDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
    )
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def tiny_vae(dtype: Any, device: str) -> Any:
    """TAESD's architecture (diffusers AutoencoderTiny), random weights."""
    from diffusers import AutoencoderTiny

    vae: Any = AutoencoderTiny()
    return vae.to(device, dtype)


def run(
    pipe: Any, v: Variant, steps: int, size: int, repeats: int, device: str
) -> dict[str, float]:
    import torch

    prompts = ["rigabalsam bottle, on a wooden table"] * v.batch
    kwargs = dict(num_inference_steps=steps, height=size, width=size, guidance_scale=7.5)
    pipe(prompts, **kwargs)  # warm-up (and compilation)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(repeats):
        pipe(prompts, **kwargs)
    if device == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - t0
    images = v.batch * repeats
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
    return {"images_per_s": images / elapsed, "s_per_image": elapsed / images, "peak_gib": peak}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="CPU, tiny models, 64², 4 steps")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import torch
    from diffusers import StableDiffusionPipeline

    from core.draw.tiny import build_tiny_models

    with tempfile.TemporaryDirectory() as tmp:
        tiny = build_tiny_models(Path(tmp))
        if args.quick:
            device, dtype, steps, size, repeats, variants = "cpu", torch.float32, 4, 64, 2, QUICK
            base = StableDiffusionPipeline.from_pretrained(tiny["sd"])
        else:
            if not torch.cuda.is_available():
                raise SystemExit("the full benchmark needs a CUDA GPU; use --quick on a CPU")
            device, dtype, steps, size, repeats, variants = (
                "cuda",
                torch.float16,
                args.steps,
                args.size,
                args.repeats,
                FULL,
            )
            print(torch.cuda.get_device_name(), f"torch {torch.__version__}")
            base = sd15_pipeline(tiny["sd"] / "tokenizer")
        base.set_progress_bar_config(disable=True)
        base.to(device, dtype)
        original_vae, original_unet = base.vae, base.unet
        print(
            f"{'variant':18} {'batch':>5} {'images/s':>9} {'s/image':>8} {'peak GiB':>9}"
            f"  ({steps} steps, {size}²)"
        )
        for v in variants:
            pipe = base
            pipe.vae = tiny_vae(dtype, device) if v.tiny_vae else original_vae
            pipe.unet = original_unet
            if v.channels_last:
                pipe.unet.to(memory_format=torch.channels_last)
            if v.compile:
                pipe.unet = torch.compile(original_unet, mode="max-autotune", fullgraph=True)
            r = run(pipe, v, steps, size, repeats, device)
            print(
                f"{v.name:18} {v.batch:5d} {r['images_per_s']:9.2f} {r['s_per_image']:8.3f}"
                f" {r['peak_gib']:9.2f}"
            )


if __name__ == "__main__":
    main()
