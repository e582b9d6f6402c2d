"""Tiny random models that look at pictures, for tests and offline demos: the captioner
(BLIP, DIR/captioner), and the scoring models training and describing use, CLIP (DIR/clip)
and DINOv2 (DIR/dino). Shapes only; the loading code paths are the real ones."""

from __future__ import annotations

from pathlib import Path

from core.draw.tiny import TINY_TOWER, TINY_VISION, clip_text_settings, clip_vocabulary


def build_blip(out: Path, work: Path) -> None:
    """A tiny BLIP captioner with a small English word-piece vocabulary, like
    Salesforce/blip-image-captioning-base in shape only."""
    import torch
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    torch.manual_seed(0)
    words = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        "[DEC]",
        "a",
        "photo",
        "of",
        "the",
        "church",
        "tower",
        "red",
        "roof",
        "sky",
        "in",
        "with",
        "old",
        "building",
        "city",
    ]
    (work / "blip-vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(work / "blip-vocab.txt"))
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    text = {
        **TINY_TOWER,
        "vocab_size": len(words),
        "bos_token_id": 5,
        "pad_token_id": 0,
        "sep_token_id": 3,
        "encoder_hidden_size": 32,
    }
    config = BlipConfig(text_config=text, vision_config=TINY_VISION, projection_dim=32)
    BlipForConditionalGeneration(config).save_pretrained(out)
    images = BlipImageProcessor(size={"height": 32, "width": 32})
    BlipProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(out)


def build_clip(out: Path) -> None:
    """A tiny CLIP (image and text towers) with its processor, like
    openai/clip-vit-large-patch14 in shape only."""
    import torch
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPTokenizer,
    )

    torch.manual_seed(0)
    vocab = clip_vocabulary()
    config = CLIPConfig(
        text_config=clip_text_settings(vocab), vision_config=TINY_VISION, projection_dim=32
    )
    CLIPModel(config).save_pretrained(out)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size=32)
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(out)


def build_dino(out: Path) -> None:
    """A tiny DINOv2 ViT with its processor, like facebook/dinov2-small in shape only."""
    import torch
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    config = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        mlp_ratio=1,
        image_size=32,
        patch_size=8,
    )
    Dinov2Model(config).save_pretrained(out)
    BitImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}, do_center_crop=True
    ).save_pretrained(out)
