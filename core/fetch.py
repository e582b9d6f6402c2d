"""`python -m core fetch-models`: put the configured models on this machine, so the bot can
then run fully offline (HF_HUB_OFFLINE=1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.config import Config
from core.errors import ModelError
from core.hub import hub_reachable
from core.lang.translate import convert_to_ctranslate2, is_ctranslate2_dir

# Weights formats the pipelines never load; skipping them saves gigabytes.
_SKIP = ["*.ckpt", "*.msgpack", "*.h5", "*.onnx", "*.onnx_data", "*.ot", "rust_model*", "*.tflite"]


@dataclass(frozen=True)
class Fetched:
    role: str  # generator | translator | translator-ct2
    source: str
    path: Path
    downloaded: bool


def _snapshot(repo_id: str, cache_dir: str) -> Path:
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id, cache_dir=cache_dir or None, ignore_patterns=_SKIP))


def fetch_models(
    config: Config,
    convert: bool = False,
    download: Callable[[str, str], Path] = _snapshot,
    reachable: Callable[[], bool] = hub_reachable,
) -> list[Fetched]:
    m = config.models
    out: list[Fetched] = []
    for role, source in (("generator", m.generator), ("translator", m.translator)):
        local = config.path(source)
        if local.exists():  # a local dir: nothing to download
            out.append(Fetched(role, source, local, False))
            continue
        if not reachable():
            raise ModelError(
                f"cannot download the {role} {source!r}: the model hub "
                "(huggingface.co, or HF_ENDPOINT) cannot be reached from this machine. "
                "Run fetch-models where there is internet and copy the cache "
                "(HF_HOME) over, or point the config at local model dirs."
            )
        try:
            out.append(Fetched(role, source, download(source, m.cache_dir), True))
        except Exception as exc:
            raise ModelError(f"downloading {source!r} failed: {exc}") from exc
    translator = out[-1]
    if convert and not is_ctranslate2_dir(translator.path):
        if translator.downloaded:
            base = (
                Path(m.cache_dir).expanduser() if m.cache_dir else Path.home() / ".cache" / "zime"
            )
            target = base / (translator.source.replace("/", "--") + "-ct2")
        else:
            target = translator.path.with_name(translator.path.name + "-ct2")
        convert_to_ctranslate2(translator.path, target)
        out.append(Fetched("translator-ct2", translator.source, target, False))
    return out
