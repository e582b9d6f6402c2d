from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from core.app import open_service
from core.config import config_from_dict
from core.errors import ModelError
from core.hub import hub_address, hub_reachable
from core.jobs.job import Request
from core.jobs.store import MIGRATIONS
from core.lang.translate import IdentityTranslator, Translators
from core.ops.fetch import RepoFile, fetch_models, plan_files, wants_fp16
from core.ops.maintenance import backup, db_stats, prune_images
from tests.fakes import FakeGenerator
from tests.helpers import make_config

ROOT = Path(__file__).resolve().parent.parent


def run_core(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=Path.cwd(),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


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
        f'[models]\ngenerator = "{tiny_models["sd"]}"\ntranslator = "{opus}"\ntranslators = {{}}\n',
        encoding="utf-8",
    )
    proc = run_core("fetch-models", "--config", str(cfg), "--ctranslate2")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    assert rows[0] == ["generator", str(tiny_models["sd"]), "local"]
    assert rows[1] == ["translator", str(opus), "local"]
    assert rows[2][0] == "translator-ct2" and (tmp_path / "opus-ct2" / "model.bin").is_file()


def test_fetch_models_downloads_hub_ids_with_the_given_downloader(tmp_path: Path) -> None:
    got: list[tuple[str, str, list[str]]] = []
    listing = {
        "minusthousand/lv-sb": LV_SB,
        "Helsinki-NLP/opus-mt-tc-big-lv-en": OPUS,
        "Helsinki-NLP/opus-mt-ru-en": OPUS,
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
    assert [i.role for i in items] == ["generator:lv-sb", "translator", "translator-ru"]
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


async def test_backup_restore_round_trip_and_stats(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    async with open_service(
        cfg, generator=FakeGenerator(), translators=Translators.single(IdentityTranslator())
    ) as svc:
        sub = await svc.handle(Request("test", "u1", "u1", "Rīgas balzams"))
        await sub.handle.wait()
        copy = backup(Path(cfg.storage.database), tmp_path / "backups" / "b.sqlite3")  # while open
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT request_text, status FROM jobs").fetchall() == [
            ("Rīgas balzams", "done")
        ]
    restored = make_config(tmp_path / "restored")
    Path(restored.storage.database).parent.mkdir(parents=True, exist_ok=True)
    Path(restored.storage.database).write_bytes(copy.read_bytes())
    async with open_service(
        restored, generator=FakeGenerator(), translators=Translators.single(IdentityTranslator())
    ) as svc:
        [item] = await svc.history(Request("test", "u1", "u1", ""))
        assert item.request_text == "Rīgas balzams" and item.status == "done"
    stats = db_stats(copy)
    assert (
        stats["jobs"] == 1
        and stats["jobs_by_status"] == {"done": 1}
        and stats["schema_version"] == len(MIGRATIONS)
    )


def test_db_cli(tmp_path: Path) -> None:
    cfg_file = tmp_path / "cfg.toml"
    cfg_file.write_text(f'[storage]\ndatabase = "{tmp_path / "z.sqlite3"}"\n', encoding="utf-8")
    missing = run_core("db", "stats", "--config", str(cfg_file))
    assert missing.returncode == 2 and "no database" in missing.stderr

    async def make() -> None:
        async with open_service(
            make_config(tmp_path),
            generator=FakeGenerator(),
            translators=Translators.single(IdentityTranslator()),
        ):
            pass

    asyncio.run(make())
    proc = run_core("db", "--config", str(cfg_file), "backup", str(tmp_path / "copy.sqlite3"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "copy.sqlite3").is_file()  # the check itself, not its message
    with sqlite3.connect(tmp_path / "copy.sqlite3") as db:
        assert db.execute("SELECT MAX(version) FROM schema_migrations").fetchone() == (
            len(MIGRATIONS),
        )
    stats = run_core("db", "stats", "--config", str(cfg_file))
    assert json.loads(stats.stdout)["schema_version"] == len(MIGRATIONS)


def test_image_retention(tmp_path: Path) -> None:
    old = tmp_path / "2020-01-01" / "1.png"
    new = tmp_path / "2026-01-01" / "2.png"
    for p in (old, new):
        p.parent.mkdir(parents=True)
        p.write_bytes(b"png")
    os.utime(old, (time.time() - 40 * 86400,) * 2)
    assert prune_images(tmp_path, 30) == 1
    assert not old.exists() and not old.parent.exists() and new.exists()
    assert prune_images(tmp_path, 0) == 0


async def test_metrics_endpoint(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, metrics={"enabled": True, "port": 39417})
    async with open_service(
        cfg, generator=FakeGenerator(), translators=Translators.single(IdentityTranslator())
    ) as svc:
        sub = await svc.handle(Request("test", "u1", "u1", "kaķis uz jumta"))
        await sub.handle.wait()

        def get(path: str) -> tuple[int, str]:
            with urllib.request.urlopen(f"http://127.0.0.1:39417{path}", timeout=5) as r:
                return r.status, r.read().decode()

        status, body = await asyncio.to_thread(get, "/healthz")
        assert status == 200 and body.strip() == "ok"
        _, text = await asyncio.to_thread(get, "/metrics")
    assert "zime_queue_length 0" in text
    assert 'zime_jobs_total{status="done"} 1' in text
    assert "zime_draw_seconds_count 1" in text and 'zime_draw_seconds_bucket{le="+Inf"} 1' in text
    assert "zime_translate_seconds_count 1" in text


@pytest.mark.parametrize("privacy", [False, True])
async def test_one_log_line_per_job_and_privacy_mode(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, privacy: bool
) -> None:
    cfg = make_config(tmp_path, logging={"privacy": privacy})
    caplog.set_level("INFO", logger="zime.worker")
    async with open_service(
        cfg, generator=FakeGenerator(), translators=Translators.single(IdentityTranslator())
    ) as svc:
        sub = await svc.handle(Request("test", "u9", "u9", "mana slepenā vēlme"))
        await sub.handle.wait()
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("job ")]
    assert f"id={sub.job_id}" in line and "status=done" in line and "draw_s=" in line
    assert ("slepenā" in line) is (not privacy)


def test_compose_gpus_profile_runs_one_runner_per_gpu() -> None:
    """The "gpus" profile: Redis with append-only persistence, a coordinator that reaches
    it, and runners that each reserve one distinct GPU and run `core runner`."""
    import yaml  # transformers' own dependency

    services = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))["services"]
    gpus = {name: s for name, s in services.items() if "gpus" in s.get("profiles", [])}
    assert "--appendonly" in gpus["redis"]["command"]
    assert gpus["zime-coordinator"]["environment"]["ZIME_REDIS_URL"] == "redis://redis:6379/0"
    runners = {n: s for n, s in gpus.items() if n.startswith("runner-")}
    assert len(runners) >= 2
    devices = [
        s["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"][0]
        for s in runners.values()
    ]
    assert len(set(devices)) == len(devices)
    for name, s in runners.items():
        assert s["entrypoint"][2:4] == ["core", "runner"] and name in s["entrypoint"]
        assert s["environment"]["ZIME_QUEUE_BACKEND"] == "redis"


def test_compose_containers_share_the_data_dir_and_a_container_config() -> None:
    """Every service that loads the config mounts deploy/zime.toml as it and ./data as
    /data, and every path of that config is under /data: the runners see the adapters the
    coordinator installs (#23), and nothing is written to the read-only /config."""
    import yaml

    from core.config import load_config

    services = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))["services"]
    cfg = load_config(ROOT / "deploy" / "zime.toml", {})
    for path in (
        cfg.storage.database,
        cfg.storage.images,
        cfg.storage.adapters,
        cfg.storage.concepts,
        cfg.training.class_images,
    ):
        assert str(cfg.path(path)).startswith("/data/"), path
    assert cfg.metrics.enabled and cfg.metrics.host == "0.0.0.0"
    users = [n for n in services if n != "redis"]
    assert {"zime", "zime-coordinator", "runner-0", "runner-1"} <= set(users)
    for name in users:
        volumes = services[name]["volumes"]
        assert "./data:/data" in [v.split(" ")[0] for v in volumes], name
        assert "./deploy/zime.toml:/config/config.toml:ro" in volumes, name
    redis_env = load_config(ROOT / "deploy" / "zime.toml", {"ZIME_QUEUE_BACKEND": "redis"})
    assert redis_env.queue.backend == "redis"


def test_an_extra_translator_that_cannot_load_is_left_out(
    tiny_models: dict[str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Russian is on by default (#22); offline and not fetched, the bot still starts and
    Russian prompts get the polite refusal. The Latvian translator must load."""
    from core.app import make_translators

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    opus = str(tiny_models["opus"])
    cfg = config_from_dict(
        {
            "models": {
                "translator": opus,
                "translators": {"ru": "Helsinki-NLP/opus-mt-ru-en", "lt": opus},
            }
        }
    )
    translators = make_translators(cfg, device="cpu")
    assert translators.supports("lv") and translators.supports("lt")
    assert not translators.supports("ru") and "ru translator is left out" in caplog.text
    with pytest.raises(ModelError):
        make_translators(config_from_dict({"models": {"translator": "nobody/nothing"}}))


def test_fetch_models_fetches_every_catalogue_model_and_its_fast_lora(tmp_path: Path) -> None:
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
    }
    models = {
        "translators": {},
        "generators": {
            "lv-sb": {
                "path": "minusthousand/lv-sb",
                "concepts": True,
                "fast_lora": "ByteDance/Hyper-SD/Hyper-SD15-8steps-CFG-lora.safetensors",
            },
            "other": {"path": "other/sd15"},
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
        "translator",
    ]
    lora = items[1]
    assert got[1] == ("ByteDance/Hyper-SD", ["Hyper-SD15-8steps-CFG-lora.safetensors"])
    assert lora.path.name == "Hyper-SD15-8steps-CFG-lora.safetensors"  # the file, not the repo
    got.clear()
    only = fetch_models(cfg, only="other", **kw)
    assert [i.role for i in only] == ["generator:other"] and [g[0] for g in got] == ["other/sd15"]
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
