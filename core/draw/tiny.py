"""Tiny random models for tests and offline demos, built locally in seconds.

`build_tiny_models(DIR)` writes
  DIR/sd    a diffusers StableDiffusionPipeline (tiny UNet, VAE with the real 8x scale,
            CLIP text encoder, a byte-level CLIP BPE tokenizer built here),
  DIR/nllb  an M2M100 (NLLB architecture) translator + NLLB tokenizer from a locally trained
            sentencepiece model, with the FLORES language codes (lvs_Latn, eng_Latn …),
  DIR/opus  a Marian (OPUS-MT architecture) translator + Marian sentencepiece tokenizer.
All weights are random (seeded), so outputs are noise; the loading code paths are the real
ones (`from_pretrained`). Nothing here touches the network.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

# Latvian and English phrases the tiny tokenizers learn their pieces from.
_CORPUS = [
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
    "a cat on the roof",
    "a dog in the park by the river",
    "a bottle on the table",
    "sunset by the sea in winter",
    "a red house in the forest",
    "a girl with flowers in a meadow",
    "an old bridge over the river at night",
    "a boy eats gingerbread in the kitchen",
    "snow and fir trees in the mountains",
    "a blue bird flies in the sky",
]


# Shapes shared by the tiny Marian and M2M100 translators: a few hundred KB each.
_SEQ2SEQ_DIMS: dict[str, Any] = {
    "d_model": 32,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 64,
    "decoder_ffn_dim": 64,
    "max_position_embeddings": 128,
}


def _train_spm(prefix: Path, vocab_size: int, model_type: str) -> Path:
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_CORPUS * 10),
        model_prefix=str(prefix),
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return prefix.with_suffix(".model")


def _byte_alphabet() -> list[str]:
    """The 256 printable stand-ins byte-level BPE (GPT-2, CLIP) uses for raw bytes."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]


def clip_vocabulary(size: int = 0) -> dict[str, int]:
    """A byte-level BPE vocabulary with no merges (every byte is a token, like CLIP's base
    alphabet), padded with unused tokens to `size` when given (CLIP-L has 49408)."""
    alphabet = _byte_alphabet()
    vocab_list = alphabet + [ch + "</w>" for ch in alphabet] + ["<|startoftext|>", "<|endoftext|>"]
    vocab = {tok: i for i, tok in enumerate(vocab_list)}
    for i in range(size - len(vocab)):
        vocab[f"<extra_{i}>"] = len(vocab)
    return vocab


# the transformer towers of every tiny CLIP, BLIP and safety checker
TINY_TOWER = {
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
}
TINY_VISION = {**TINY_TOWER, "image_size": 32, "patch_size": 8}


def clip_text_settings(vocab: dict[str, int]) -> dict[str, Any]:
    """A tiny CLIP text tower's config over `vocab` (clip_vocabulary), as SD's has."""
    return {
        **TINY_TOWER,
        "vocab_size": len(vocab),
        "max_position_embeddings": 77,
        "bos_token_id": vocab["<|startoftext|>"],
        "eos_token_id": vocab["<|endoftext|>"],
        "pad_token_id": vocab["<|endoftext|>"],
    }


def _build_sd(out: Path) -> None:
    import torch
    from diffusers import (
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    vocab = clip_vocabulary()
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    text_encoder = CLIPTextModel(CLIPTextConfig(**clip_text_settings(vocab)))
    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=32,
    )
    vae, scheduler = tiny_vae(512), tiny_scheduler()
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=_tiny_safety_checker(),
        feature_extractor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size=32),
        requires_safety_checker=True,
    )
    pipe.save_pretrained(out, safe_serialization=True)  # type: ignore[attr-defined]


def tiny_vae(sample_size: int) -> Any:
    """A tiny 4-channel VAE (SD 1.5's and SDXL's shape, smallest widths)."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 16, 16),
        norm_num_groups=4,
        latent_channels=4,
        sample_size=sample_size,
    )


def tiny_scheduler() -> Any:
    from diffusers import EulerAncestralDiscreteScheduler

    return EulerAncestralDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
    )


def _tiny_safety_checker() -> Any:
    """SD's safety checker class on a tiny CLIP. Its concept weights are ones, as the class
    initialises them, so it flags nothing; a test lowers them to flag everything."""
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig

    config = CLIPConfig(text_config=TINY_TOWER, vision_config=TINY_VISION, projection_dim=32)
    return StableDiffusionSafetyChecker(config)


def _build_nllb(out: Path, work: Path) -> None:
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    torch.manual_seed(0)
    spm_dir = work / "nllb_spm"
    spm_dir.mkdir()
    _train_spm(spm_dir / "sentencepiece.bpe", 160, "bpe")
    tok = NllbTokenizer.from_pretrained(spm_dir, src_lang="lvs_Latn", tgt_lang="eng_Latn")
    tok.add_special_tokens({"additional_special_tokens": list(FAIRSEQ_LANGUAGE_CODES)})
    tok.src_lang = "lvs_Latn"
    config = M2M100Config(
        vocab_size=len(tok),
        **_SEQ2SEQ_DIMS,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.eos_token_id,
        scale_embedding=True,
    )
    model = M2M100ForConditionalGeneration(config)
    model.save_pretrained(out)
    tok.save_pretrained(out)


def _build_opus(out: Path, work: Path) -> None:
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    torch.manual_seed(0)
    spm_model = _train_spm(work / "opus_spm", 160, "unigram")
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(spm_model))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    vocab: dict[str, int] = {"</s>": 0, "<unk>": 1}
    for piece in pieces:
        if piece not in ("<unk>", "<s>", "</s>"):
            vocab.setdefault(piece, len(vocab))
    vocab["<pad>"] = len(vocab)
    vocab_file = work / "vocab.json"
    vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tok = MarianTokenizer(str(spm_model), str(spm_model), str(vocab_file))
    config = MarianConfig(
        vocab_size=len(vocab),
        **_SEQ2SEQ_DIMS,
        pad_token_id=vocab["<pad>"],
        eos_token_id=0,
        decoder_start_token_id=vocab["<pad>"],
        forced_eos_token_id=0,
    )
    model = MarianMTModel(config)
    model.save_pretrained(out)
    tok.save_pretrained(out)


def build_tiny_models(root: str | Path) -> dict[str, Path]:
    """Write DIR/sd, DIR/sdxl, DIR/nllb, DIR/opus (and its English → Latvian twin
    DIR/opus-en-lv), the scoring models DIR/clip and DIR/dino, the captioner DIR/captioner
    (also named "blip") and a few-step LoRA DIR/fast-lora.safetensors; return their paths."""
    from core.draw.tiny_see import build_blip, build_clip, build_dino
    from core.draw.tiny_xl import build_tiny_sdxl

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    names = ("sd", "nllb", "opus", "opus-en-lv", "clip", "dino", "captioner")
    paths = {name: root / name for name in names}
    paths["blip"] = paths["captioner"]
    paths["fast-lora"] = root / "fast-lora.safetensors"
    paths["sdxl"] = root / "sdxl"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _build_sd(paths["sd"])
        build_fast_lora(paths["sd"], paths["fast-lora"])
        build_tiny_sdxl(paths["sdxl"])
        _build_nllb(paths["nllb"], work)
        _build_opus(paths["opus"], work)
        _build_opus(paths["opus-en-lv"], work)  # random weights: either direction loads alike
        build_clip(paths["clip"])
        build_dino(paths["dino"])
        build_blip(paths["captioner"], work)
    return paths


def build_fast_lora(sd: Path, out: Path, rank: int = 4) -> None:
    """A random LoRA (rank 4) on a UNet's attention, in the diffusers format a real
    few-step LoRA (Hyper-SD) comes in: fast mode loads it through the same code."""
    import torch
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.utils.state_dict_utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_pretrained(sd, subfolder="unet")
    targets = ["to_q", "to_k", "to_v", "to_out.0"]
    unet.add_adapter(
        LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=targets)
    )
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    StableDiffusionPipeline.save_lora_weights(
        out.parent, unet_lora_layers=layers, weight_name=out.name, safe_serialization=True
    )


def is_tiny(model: str) -> bool:
    """True when `model` is a local Stable Diffusion folder with a test-sized UNet (as
    `build_tiny_models` writes): its pictures are noise, and captions must say so. Reads one
    small JSON file; a hub id or anything unreadable is taken as a real model."""
    try:
        config = json.loads((Path(model) / "unet" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(max(config.get("block_out_channels") or [320]) < 320)
