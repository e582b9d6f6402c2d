"""A LoRA on the UNet of a Stable Diffusion model (diffusers + peft), DreamBooth style:
instance photos captioned `a photo of TOKEN CLASS`, with prior preservation on class images
the base model drew. Checkpoints every K steps; a killed run resumes from the last one."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("zime.train")

LORA_FILE = "pytorch_lora_weights.safetensors"
TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


@dataclass
class TrainOptions:
    token: str
    cls: str
    steps: int = 800
    resolution: int = 512
    rank: int = 8
    learning_rate: float = 1e-4
    prior_weight: float = 1.0
    checkpoint_every: int = 100
    seed: int = 0
    device: str = "auto"


def pick_device(preference: str) -> str:
    import torch

    if preference == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return preference


def to_tensor(images: list[Any], device: str) -> Any:
    import numpy as np
    import torch

    arr = np.stack([np.asarray(img.convert("RGB"), dtype=np.float32) / 127.5 - 1 for img in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).to(device)


def class_images(
    base: str,
    cls: str,
    count: int,
    resolution: int,
    cache_root: Path,
    device: str,
    progress: Callable[[str], None] = lambda s: None,
) -> list[Any]:
    """`count` images of `a photo of CLASS` drawn by the base model, cached per class, base
    model and size (a second concept of the same class draws none)."""
    from PIL import Image

    if count <= 0:
        return []
    key = hashlib.sha1(f"{base}|{cls}|{resolution}".encode()).hexdigest()[:16]
    folder = cache_root / key
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "about.json").write_text(
        json.dumps({"base": base, "class": cls, "resolution": resolution})
    )
    have = sorted(folder.glob("*.png"))
    if len(have) < count:
        import torch
        from diffusers import StableDiffusionPipeline

        pipe = StableDiffusionPipeline.from_pretrained(
            base, safety_checker=None, requires_safety_checker=False
        )
        pipe.set_progress_bar_config(disable=True)
        pipe.to(device)
        for i in range(len(have), count):
            progress(f"class image {i + 1}/{count}")
            g = torch.Generator("cpu").manual_seed(10_000 + i)
            img = pipe(
                f"a photo of {cls}",
                num_inference_steps=20 if resolution >= 256 else 4,
                width=resolution,
                height=resolution,
                generator=g,
            ).images[0]
            img.save(folder / f"{i:04d}.png")
        del pipe
    out = []
    for path in sorted(folder.glob("*.png"))[:count]:
        with Image.open(path) as img:
            out.append(img.convert("RGB").resize((resolution, resolution)))
    return out


class LoraTrainer:
    """Owns the models and the optimizer; `train` runs to `steps`, resuming if it can."""

    def __init__(self, base: str, options: TrainOptions, out: Path) -> None:
        import torch
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
        from peft import LoraConfig
        from transformers import CLIPTextModel, CLIPTokenizer

        self.base, self.o, self.out = base, options, out
        self.device = pick_device(options.device)
        on_gpu = self.device.startswith("cuda")
        bf16 = on_gpu and torch.cuda.is_bf16_supported()
        self.dtype = torch.bfloat16 if bf16 else torch.float16 if on_gpu else torch.float32
        # frozen weights in half precision on a GPU (loaded so, not cast); LoRA trains in fp32
        self.tokenizer = CLIPTokenizer.from_pretrained(base, subfolder="tokenizer")
        self.text_encoder = CLIPTextModel.from_pretrained(
            base, subfolder="text_encoder", dtype=self.dtype
        )
        self.vae = AutoencoderKL.from_pretrained(base, subfolder="vae", torch_dtype=self.dtype)
        self.unet = UNet2DConditionModel.from_pretrained(
            base, subfolder="unet", torch_dtype=self.dtype
        )
        self.scheduler = DDPMScheduler.from_pretrained(base, subfolder="scheduler")
        for frozen in (self.text_encoder, self.vae, self.unet):
            frozen.requires_grad_(False)
        for model in (self.text_encoder, self.vae, self.unet):
            model.to(self.device)  # type: ignore[arg-type]
        torch.manual_seed(options.seed)  # the LoRA's initial weights: the same every run
        self.unet.add_adapter(
            LoraConfig(
                r=options.rank,
                lora_alpha=options.rank,
                init_lora_weights="gaussian",
                target_modules=TARGETS,
            )
        )
        for p in self.unet.parameters():
            if p.requires_grad:
                p.data = p.data.float()
        if on_gpu:
            self.unet.enable_gradient_checkpointing()
        self.params = [p for p in self.unet.parameters() if p.requires_grad]
        self.optimizer = self._optimizer(on_gpu)
        self.step = 0
        self.losses: list[float] = []

    def _optimizer(self, on_gpu: bool) -> Any:
        import torch

        if on_gpu:
            try:  # 8-bit Adam when bitsandbytes is installed: a third of Adam's memory
                import bitsandbytes as bnb

                return bnb.optim.AdamW8bit(self.params, lr=self.o.learning_rate)
            except ImportError:
                pass
        return torch.optim.AdamW(self.params, lr=self.o.learning_rate, weight_decay=1e-2)

    # checkpoints
    @property
    def checkpoints(self) -> Path:
        return self.out / "checkpoints"

    def save_checkpoint(self) -> Path:
        import torch
        from diffusers import StableDiffusionPipeline
        from diffusers.utils.state_dict_utils import convert_state_dict_to_diffusers
        from peft.utils import get_peft_model_state_dict

        final = self.checkpoints / f"step-{self.step:06d}"
        tmp = final.with_name(final.name + ".part")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(self.unet))
        StableDiffusionPipeline.save_lora_weights(
            tmp, unet_lora_layers=layers, safe_serialization=True
        )
        torch.save(
            {
                "step": self.step,
                "optimizer": self.optimizer.state_dict(),
                "rng": torch.get_rng_state(),
                "losses": self.losses,
            },
            tmp / "state.pt",
        )
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)  # a kill mid-save leaves only a .part, never a broken checkpoint
        return final

    def list_checkpoints(self) -> list[Path]:
        if not self.checkpoints.exists():
            return []
        return sorted(
            p for p in self.checkpoints.iterdir() if p.is_dir() and not p.name.endswith(".part")
        )

    def resume(self) -> bool:
        """Continue from the last checkpoint, if there is one."""
        import torch
        from diffusers import StableDiffusionPipeline
        from diffusers.utils.state_dict_utils import convert_unet_state_dict_to_peft
        from peft import set_peft_model_state_dict

        found = self.list_checkpoints()
        if not found:
            return False
        last = found[-1]
        state, _ = StableDiffusionPipeline.lora_state_dict(str(last))
        unet_state = {k.removeprefix("unet."): v for k, v in state.items() if k.startswith("unet.")}
        set_peft_model_state_dict(self.unet, convert_unet_state_dict_to_peft(unet_state))
        for p in self.params:
            p.data = p.data.float()
        saved = torch.load(last / "state.pt", weights_only=False)
        self.optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["rng"])
        self.step = int(saved["step"])
        self.losses = list(saved["losses"])
        log.info("resuming at step %d from %s", self.step, last)
        return True

    # training
    def _encode_text(self, captions: list[str]) -> Any:
        ids = self.tokenizer(
            captions,
            padding="max_length",
            truncation=True,
            max_length=self.tokenizer.model_max_length,
            return_tensors="pt",
        ).input_ids.to(self.device)
        return self.text_encoder(ids)[0]

    def _latents(self, images: list[Any]) -> Any:
        import torch

        with torch.no_grad():
            px = to_tensor(images, self.device).to(self.dtype)
            dist = self.vae.encode(px).latent_dist
            return (dist.mean * self.vae.config.scaling_factor).float()

    def loss(self, latents: Any, text: Any, noise: Any, timesteps: Any) -> Any:
        import torch.nn.functional as F

        noisy = self.scheduler.add_noise(latents, noise, timesteps)
        pred = self.unet(noisy.to(self.dtype), timesteps, text.to(self.dtype)).sample.float()
        if self.scheduler.config.prediction_type == "v_prediction":
            target = self.scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        return F.mse_loss(pred, target, reduction="none").mean(dim=(1, 2, 3))

    def fixed_loss(self, photos: list[Any]) -> float:
        """The loss on fixed noise and timesteps: falls as the LoRA learns the photos."""
        import torch

        g = torch.Generator("cpu").manual_seed(1234)
        latents = self._latents(photos)
        noise = torch.randn(latents.shape, generator=g).to(self.device)
        t = torch.linspace(100, 900, len(photos)).long().to(self.device)
        caption = f"a photo of {self.o.token} {self.o.cls}"
        with torch.no_grad():
            text = self._encode_text([caption] * len(photos))
            return float(self.loss(latents, text, noise, t).mean())

    def train(
        self,
        photos: list[Any],
        prior: list[Any],
        report: Callable[[str], None] | None = None,
        pause: Callable[[], None] = lambda: None,
        texts: list[list[str]] | None = None,
    ) -> list[Path]:
        """Train to `steps` (from the last checkpoint when there is one); returns every
        checkpoint, one every `checkpoint_every` steps and one at the end."""
        import torch

        report = report or (lambda s: print(s, file=sys.stderr, flush=True))
        if self.resume():
            report(f"resumed at step {self.step} from the last checkpoint")
        else:
            torch.manual_seed(self.o.seed)
        instance_latents = self._latents(photos)
        prior_latents = self._latents(prior) if prior else None
        from core.train.captions import captions

        per_photo = texts or captions(self.o.token, self.o.cls, len(photos), None)
        started, first = time.monotonic(), self.step
        self.unet.train()
        while self.step < self.o.steps:
            pause()  # drawing jobs first: the chat's training waits here while they draw
            i = self.step % len(photos)
            latents = instance_latents[i : i + 1]
            options = per_photo[i]
            batch_texts = [options[(self.step // len(photos)) % len(options)]]
            if prior_latents is not None:
                j = self.step % len(prior_latents)
                latents = torch.cat([latents, prior_latents[j : j + 1]])
                batch_texts.append(f"a photo of {self.o.cls}")
            noise = torch.randn(latents.shape).to(self.device)
            t = torch.randint(0, self.scheduler.config.num_train_timesteps, (len(latents),))
            with torch.no_grad():
                text = self._encode_text(batch_texts)
            per_item = self.loss(latents, text, noise, t.to(self.device))
            loss = per_item[0] + (
                self.o.prior_weight * per_item[1:].sum() if len(per_item) > 1 else 0
            )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.params, 1.0)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            self.losses.append(float(loss.detach()))
            done = self.step - first
            eta = (time.monotonic() - started) / done * (self.o.steps - self.step)
            if self.step % max(1, self.o.steps // 20) == 0 or self.step == self.o.steps:
                report(
                    f"step {self.step}/{self.o.steps} loss {float(loss.detach()):.4f} ETA {eta:.0f} s"
                )
            if self.step % self.o.checkpoint_every == 0 or self.step == self.o.steps:
                self.save_checkpoint()
        self.unet.eval()
        return self.list_checkpoints()
