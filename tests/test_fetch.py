"""`python -m core fetch-models` (core/ops/fetch.py): the plan follows the config, not the
machine; local models are a no-op; every catalogue model and its fast LoRA are fetched; an
unreachable hub is one clear error."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from core.config import config_from_dict
from core.errors import ModelError
from core.hub import hub_address, hub_reachable
from core.ops.fetch import RepoFile, fetch_models, plan_files, wants_fp16
from tests.test_operations import ROOT, run_core


def test_fetch_models_unreachable_hub_is_a_clear_error(tmp_path: Path) -> None:
    cfg = config_from_dict({"models": {"generator": "minusthousand/lv-sb"}})
    with pytest.raises(ModelError, match="cannot be reached"):
        fetch_models(cfg, reachable=lambda: False)
    proc = run_core("fetch-models")
    assert proc.returncode == 2 and "cannot be reached" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_fetch_models_with_local_paths_is_a_no_op_and_converts(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    import shutil

    opus = tmp_path / "opus"
    shutil.copytree(tiny_models["opus"], opus)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        f'[models]\ngenerator = "{tiny_models["sd"]}"\ntranslator = "{opus}"\ntranslators = {{}}\n'
        f'captioner = "{tiny_models["captioner"]}"\n'
        f'describe_translator = "{tiny_models["opus-en-lv"]}"\n'
        f'[training]\nclip_model = "{tiny_models["clip"]}"\n',
        encoding="utf-8",
    )
    proc = run_core("fetch-models", "--config", str(cfg), "--ctranslate2")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    assert rows[0] == ["generator", str(tiny_models["sd"]), "local"]
    assert rows[1] == ["translator", str(opus), "local"]
    assert rows[2] == ["captioner", str(tiny_models["captioner"]), "local"]  # /apraksti
    assert rows[3] == ["describe-translator", str(tiny_models["opus-en-lv"]), "local"]
    assert rows[4] == ["clip", str(tiny_models["clip"]), "local"]
    assert rows[5][0] == "translator-ct2" and (tmp_path / "opus-ct2" / "model.bin").is_file()


def test_fetch_models_downloads_hub_ids_with_the_given_downloader(tmp_path: Path) -> None:
    got: list[tuple[str, str, list[str]]] = []
    listing = {
        "minusthousand/lv-sb": LV_SB,
        "Helsinki-NLP/opus-mt-tc-big-lv-en": OPUS,
        "Helsinki-NLP/opus-mt-ru-en": OPUS,
        "Salesforce/blip-image-captioning-base": OPUS,
        "Helsinki-NLP/opus-mt-tc-big-en-lv": OPUS,
        "openai/clip-vit-large-patch14": OPUS,
    }

    def fake_download(repo: str, cache: str, allow: Sequence[str]) -> Path:
        got.append((repo, cache, list(allow)))
        return tmp_path / repo.replace("/", "--")

    lines: list[str] = []
    cfg = config_from_dict({"models": {"device": "cuda", "cache_dir": "/models"}})
    items = fetch_models(
        cfg,
        download=fake_download,
        reachable=lambda: True,
        list_files=listing.__getitem__,
        report=lines.append,
    )
    # Russian is served out of the box: its translator is fetched the same way (#22)
    assert [g[0] for g in got] == [
        "minusthousand/lv-sb",
        "Helsinki-NLP/opus-mt-tc-big-lv-en",
        "Helsinki-NLP/opus-mt-ru-en",
        "Salesforce/blip-image-captioning-base",  # /apraksti's captioner, translator, CLIP
        "Helsinki-NLP/opus-mt-tc-big-en-lv",
        "openai/clip-vit-large-patch14",
    ]
    assert got[0][1] == "/models" and "unet/diffusion_pytorch_model.fp16.safetensors" in got[0][2]
    for translator in got[1:]:
        assert translator[2] == [
            "config.json",
            "model.safetensors",
            "source.spm",
            "target.spm",
            "tokenizer_config.json",
            "vocab.json",
        ]
    assert [i.role for i in items] == [
        "generator:lv-sb",
        "translator",
        "translator-ru",
        "captioner",
        "describe-translator",
        "clip",
    ]
    assert all(i.downloaded for i in items) and items[0].bytes < 2.8e9
    # the plan is printed before anything is downloaded
    assert lines[0].startswith("generator:lv-sb minusthousand/lv-sb: 16 files, 2.74 GB")


LV_SB = [
    RepoFile(path, int(size))
    for path, size in (
        line.split("\t")
        for line in (ROOT / "tests/data/lv-sb-files.tsv").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
]
OPUS = [
    RepoFile(p, s)
    for p, s in (
        ("config.json", 1500),
        ("pytorch_model.bin", 951_000_000),
        ("model.safetensors", 950_000_000),
        ("tf_model.h5", 951_500_000),
        ("source.spm", 800_000),
        ("target.spm", 790_000),
        ("tokenizer_config.json", 300),
        ("vocab.json", 1_500_000),
    )
]


def _paths(plan: list[RepoFile]) -> set[str]:
    return {f.path for f in plan}


def test_fetch_plan_for_cuda_is_fp16_safetensors_only() -> None:
    everything = sum(f.size for f in LV_SB if not f.path.endswith(".ckpt"))
    assert 16.3e9 < everything < 16.6e9  # what fetch-models used to download
    plan = plan_files(LV_SB, fp16=True, safety_checker=True)
    weights = {p for p in _paths(plan) if p.endswith((".bin", ".safetensors", ".ckpt"))}
    assert weights == {
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "vae/diffusion_pytorch_model.fp16.safetensors",
        "text_encoder/model.fp16.safetensors",
        "safety_checker/model.fp16.safetensors",
    }
    small = {
        "model_index.json",
        "tokenizer/vocab.json",
        "unet/config.json",
        "scheduler/scheduler_config.json",
        "feature_extractor/preprocessor_config.json",
    }
    assert small <= _paths(plan)
    assert 2.7e9 < sum(f.size for f in plan) < 2.8e9


def test_fetch_plan_for_cpu_and_without_safety_checker() -> None:
    plan = plan_files(LV_SB, fp16=False, safety_checker=False)
    weights = {p for p in _paths(plan) if p.endswith((".bin", ".safetensors"))}
    assert weights == {
        "unet/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
        "text_encoder/model.safetensors",
    }
    assert not any(p.startswith("safety_checker/") for p in _paths(plan))
    # a repository with .bin weights only still gets them
    only_bin = [RepoFile("unet/diffusion_pytorch_model.bin", 10), RepoFile("unet/config.json", 1)]
    assert _paths(plan_files(only_bin, fp16=True, safety_checker=True)) == _paths(only_bin)
    # shards of one form come together, with their index
    shards = [RepoFile(f"model-0000{i}-of-00002.safetensors", 5) for i in (1, 2)]
    shards += [RepoFile("model.safetensors.index.json", 1), RepoFile("pytorch_model.bin", 10)]
    assert _paths(plan_files(shards, fp16=False, safety_checker=True)) == _paths(shards[:3])


def test_the_plan_follows_the_config_not_the_machine() -> None:
    assert wants_fp16(config_from_dict({"models": {"device": "cuda"}}))
    assert wants_fp16(config_from_dict({"models": {"device": "auto"}}))
    assert not wants_fp16(config_from_dict({"models": {"device": "cpu"}}))


def test_hub_endpoint_port_is_honoured() -> None:
    import socket

    server = socket.socket()  # the kernel completes the handshake; no accept() needed
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    try:
        assert hub_address({"HF_ENDPOINT": f"http://127.0.0.1:{port}"}) == ("127.0.0.1", port)
        assert hub_address({}) == ("huggingface.co", 443)
        assert hub_address({"HF_ENDPOINT": "http://mirror.lan"}) == ("mirror.lan", 80)
        assert hub_reachable({"HF_ENDPOINT": f"http://127.0.0.1:{port}"})
        assert not hub_reachable({"HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_HUB_OFFLINE": "1"})
    finally:
        server.close()


def test_fetch_models_fetches_every_catalogue_model_its_fast_lora_and_inpainting(
    tmp_path: Path,
) -> None:
    got: list[tuple[str, list[str]]] = []

    def fake_download(repo: str, cache: str, allow: Sequence[str]) -> Path:
        got.append((repo, list(allow)))
        return tmp_path / repo.replace("/", "--")

    listing = {
        "minusthousand/lv-sb": LV_SB,
        "other/sd15": LV_SB,
        "ByteDance/Hyper-SD": [
            RepoFile("Hyper-SD15-8steps-CFG-lora.safetensors", 269_000_000),
            RepoFile("Hyper-SDXL-8steps-lora.safetensors", 787_000_000),
        ],
        "Helsinki-NLP/opus-mt-tc-big-lv-en": OPUS,
        "other/sd15-inpainting": LV_SB,
    }
    models = {
        "translators": {},
        "captioner": "",  # no /apraksti models: this test is about the catalogue
        "describe_translator": "",
        "generators": {
            "lv-sb": {
                "path": "minusthousand/lv-sb",
                "concepts": True,
                "fast_lora": "ByteDance/Hyper-SD/Hyper-SD15-8steps-CFG-lora.safetensors",
            },
            "other": {"path": "other/sd15", "inpaint": "other/sd15-inpainting"},
        },
    }
    cfg = config_from_dict({"models": models})
    kw: dict[str, Any] = {
        "download": fake_download,
        "reachable": lambda: True,
        "list_files": listing.__getitem__,
    }
    items = fetch_models(cfg, **kw)
    assert [i.role for i in items] == [
        "generator:lv-sb",
        "fast-lora:lv-sb",
        "generator:other",
        "inpaint:other",
        "translator",
    ]
    lora = items[1]
    assert got[1] == ("ByteDance/Hyper-SD", ["Hyper-SD15-8steps-CFG-lora.safetensors"])
    assert lora.path.name == "Hyper-SD15-8steps-CFG-lora.safetensors"  # the file, not the repo
    got.clear()
    only = fetch_models(cfg, only="other", **kw)
    assert [i.role for i in only] == ["generator:other", "inpaint:other"]
    assert [g[0] for g in got] == ["other/sd15", "other/sd15-inpainting"]
    with pytest.raises(ModelError, match="no such model"):
        fetch_models(cfg, only="nope", **kw)


def test_fetch_plan_for_an_sdxl_repository() -> None:
    """SDXL's repository keeps two 6.9 GB single-file checkpoints, an example LoRA and
    OpenVINO weights at or beside its diffusers layout: none of them is fetched."""
    mb = 1_000_000
    files = [
        RepoFile(p, s)
        for p, s in [
            ("model_index.json", 600),
            ("sd_xl_base_1.0.safetensors", 6_940 * mb),
            ("sd_xl_base_1.0_0.9vae.safetensors", 6_940 * mb),
            ("sd_xl_offset_example-lora_1.0.safetensors", 50 * mb),
            ("scheduler/scheduler_config.json", 500),
            ("text_encoder/config.json", 600),
            ("text_encoder/model.safetensors", 492 * mb),
            ("text_encoder/model.fp16.safetensors", 246 * mb),
            ("text_encoder/openvino_model.bin", 492 * mb),
            ("text_encoder/openvino_model.xml", mb),
            ("text_encoder_2/config.json", 600),
            ("text_encoder_2/model.safetensors", 2_778 * mb),
            ("text_encoder_2/model.fp16.safetensors", 1_389 * mb),
            ("tokenizer/vocab.json", mb),
            ("tokenizer_2/vocab.json", mb),
            ("unet/config.json", 1800),
            ("unet/diffusion_pytorch_model.safetensors", 10_270 * mb),
            ("unet/diffusion_pytorch_model.fp16.safetensors", 5_140 * mb),
            ("unet/model.onnx", mb),
            ("vae/config.json", 600),
            ("vae/diffusion_pytorch_model.safetensors", 335 * mb),
            ("vae/diffusion_pytorch_model.fp16.safetensors", 167 * mb),
        ]
    ]
    plan = [f.path for f in plan_files(files, fp16=True, safety_checker=True)]
    assert "sd_xl_base_1.0.safetensors" not in plan and "model_index.json" in plan
    assert not [p for p in plan if "openvino" in p or p.endswith(".onnx")]
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in plan
    assert "unet/diffusion_pytorch_model.safetensors" not in plan
    assert sum(f.size for f in files if f.path in plan) < 7_000 * mb
