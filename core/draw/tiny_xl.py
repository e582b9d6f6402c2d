"""A tiny random SDXL pipeline for tests and `--demo` (`core tiny-models DIR` writes
DIR/sdxl): SDXL's real classes (two text encoders, the text-time embedding) in the smallest
shapes they allow, loaded through the same code as a real SDXL checkpoint."""

from __future__ import annotations

from pathlib import Path


def build_tiny_sdxl(out: Path) -> None:
    import torch
    from diffusers import (
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        CLIPTokenizer,
    )

    from core.draw.tiny import clip_text_settings, clip_vocabulary, tiny_scheduler, tiny_vae

    torch.manual_seed(0)
    vocab = clip_vocabulary()
    text = CLIPTextConfig(**clip_text_settings(vocab), projection_dim=32)
    time_dim = 8  # six size/crop numbers, each embedded in 8, beside the pooled text (32)
    unet = UNet2DConditionModel(
        sample_size=32,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=time_dim,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=6 * time_dim + 32,
        cross_attention_dim=64,  # both text encoders' hidden states side by side
        norm_num_groups=1,
    )
    vae, scheduler = tiny_vae(1024), tiny_scheduler()
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(text),
        text_encoder_2=CLIPTextModelWithProjection(text),
        tokenizer=CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77),
        tokenizer_2=CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77),
        unet=unet,
        scheduler=scheduler,
    )
    pipe.save_pretrained(out, safe_serialization=True)  # type: ignore[attr-defined]
