"""`python -m core fetch-models`: put the configured models on this machine, so the bot can
then run fully offline (HF_HUB_OFFLINE=1).

Only what the configured device loads is fetched (issue #11): a model repository such as
`minusthousand/lv-sb` holds every weight four times (fp32 and fp16, `.bin` and
`.safetensors`) plus a 4 GB A1111 checkpoint, about 16.5 GB where 2.75 GB serve a GPU.
The selection follows the config, not this machine, so an operator can fetch on a laptop
for a CUDA server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.config import Config
from core.errors import ModelError
from core.hub import hub_reachable
from core.lang.translate import convert_to_ctranslate2, is_ctranslate2_dir

# Formats no loader of ours reads: other frameworks, and the single-file A1111 checkpoint.
_NEVER = re.compile(
    r"(\.ckpt|\.msgpack|\.h5|\.onnx|\.onnx_data|\.ot|\.tflite|\.pt|\.pth|\.gguf)$"
    r"|(^|/)rust_model|(^|/)openvino_model|(^|/)\.gitattributes$"
)
# In a diffusers repository (model_index.json at the root), weights at the root are
# single-file checkpoints and example LoRAs (SDXL's sd_xl_base_1.0.safetensors: 6.9 GB twice).
_ROOT_WEIGHTS = re.compile(r"^[^/]+\.(safetensors|bin)$")
_WEIGHT = re.compile(
    r"^(?P<dir>(?:.*/)?)(?P<name>pytorch_model|model|diffusion_pytorch_model)"
    r"(?P<variant>\.fp16)?(?P<shard>-\d{5}-of-\d{5})?\.(?P<ext>bin|safetensors)(?P<index>\.index\.json)?$"
)
# Pipeline components that exist only for the NSFW checker.
_SAFETY_DIRS = ("safety_checker/",)


@dataclass(frozen=True)
class RepoFile:
    path: str
    size: int


@dataclass(frozen=True)
class Fetched:
    role: str  # generator | translator | translator-<lang> | translator-ct2
    source: str
    path: Path
    downloaded: bool
    files: int = 0
    bytes: int = 0


def wants_fp16(config: Config) -> bool:
    """fp16 weights for `device = "cuda"` and `"auto"` (auto expects a GPU; on a CPU the fp16
    files are read and cast to fp32), fp32 for `"cpu"`."""
    return config.models.device != "cpu"


def _form(fp16: bool, variant: bool, ext: str) -> int:
    """Preference of a weight file's form (lower is better) for the wanted dtype: the right
    precision as safetensors, then the other precision as safetensors, then `.bin`."""
    right_precision = variant == fp16
    return (0 if ext == "safetensors" else 2) + (0 if right_precision else 1)


def plan_files(files: Iterable[RepoFile], *, fp16: bool, safety_checker: bool) -> list[RepoFile]:
    """The files a loader needs: one form of every weight (see `_form`), every small file
    (configs, tokenizers), no other framework's weights, no checkpoint, and no safety checker
    when it is off."""
    keep: list[RepoFile] = []
    weights: dict[str, list[tuple[int, RepoFile]]] = {}
    files = list(files)
    pipeline = any(f.path == "model_index.json" for f in files)
    for f in files:
        if _NEVER.search(f.path) or (pipeline and _ROOT_WEIGHTS.match(f.path)):
            continue
        if not safety_checker and f.path.startswith(_SAFETY_DIRS):
            continue
        m = _WEIGHT.match(f.path)
        if m is None:
            keep.append(f)
            continue
        key = m["dir"]  # one model per folder (unet/, text_encoder/ …, or the repo root)
        rank = _form(fp16, bool(m["variant"]), m["ext"])
        weights.setdefault(key, []).append((rank, f))
    for candidates in weights.values():
        best = min(rank for rank, _ in candidates)
        keep.extend(f for rank, f in candidates if rank == best)  # all shards of that form
    return sorted(keep, key=lambda f: f.path)


def human(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


def _list_files(repo_id: str) -> list[RepoFile]:
    from huggingface_hub import HfApi

    info = HfApi().model_info(repo_id, files_metadata=True)
    return [RepoFile(s.rfilename, int(s.size or 0)) for s in info.siblings or ()]


def _snapshot(repo_id: str, cache_dir: str, allow: Sequence[str]) -> Path:
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id, cache_dir=cache_dir or None, allow_patterns=list(allow)))


def _models(config: Config, only: str = "") -> list[tuple[str, str, bool]]:
    """(role, source, is an image model) for every model the config names, once each: each
    catalogue model ("generator" alone for a config's single generator; else
    "generator:NAME"), its fast LoRA ("fast-lora:NAME") and inpainting checkpoint
    ("inpaint:NAME"), then the translators. `only`: one catalogue model and those two."""
    m = config.models
    out: list[tuple[str, str, bool]] = []
    for name, spec in config.catalogue().items():
        if only and name != only:
            continue
        role = "generator" if m.generator else f"generator:{name}"
        out.append((role, spec.path, True))
        if spec.fast_lora:
            out.append((f"fast-lora:{name}", spec.fast_lora, False))
        if spec.inpaint:  # a dedicated inpainting checkpoint (regions, 🔭)
            out.append((f"inpaint:{name}", spec.inpaint, True))
    if only:
        if not out:
            names = ", ".join(config.catalogue())
            raise ModelError(f"--only {only}: no such model in the catalogue ({names})")
        return out
    out.append(("translator", m.translator, False))
    for lang, source in m.translators.items():
        if source not in {s for _, s, _ in out}:
            out.append((f"translator-{lang}", source, False))
    # /apraksti: the captioner, the English → Latvian translator and CLIP ([training])
    for role, source in (
        ("captioner", m.captioner),
        ("describe-translator", m.describe_translator),
        ("clip", config.training.clip_model if m.captioner else ""),
    ):
        if source and source not in {s for _, s, _ in out}:
            out.append((role, source, False))
    return out


def lora_file(source: str) -> tuple[str, str] | None:
    """A LoRA named as `owner/repo/file.safetensors`: (repo id, file); None for a repo."""
    parts = source.split("/")
    return ("/".join(parts[:2]), "/".join(parts[2:])) if len(parts) > 2 else None


def fetch_models(
    config: Config,
    convert: bool = False,
    download: Callable[[str, str, Sequence[str]], Path] = _snapshot,
    reachable: Callable[[], bool] = hub_reachable,
    list_files: Callable[[str], list[RepoFile]] = _list_files,
    report: Callable[[str], None] = lambda line: None,
    only: str = "",
) -> list[Fetched]:
    """Download what the config loads (`only`: one catalogue model, its fast LoRA and
    inpainting checkpoint);
    `report` gets the plan (files and sizes) first."""
    m = config.models
    out: list[Fetched] = []
    for role, source, is_image in _models(config, only):
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
        single = lora_file(source) if role.startswith("fast-lora") else None
        repo = single[0] if single else source
        try:
            listed = list_files(repo)
            plan = (
                [f for f in listed if f.path == single[1]]  # one LoRA file of a repository
                if single
                else plan_files(
                    listed,
                    fp16=is_image and wants_fp16(config),  # translators run fp32 (translate)
                    safety_checker=m.safety_checker != "never",
                )
            )
            if single and not plan:
                raise ModelError(f"{source!r}: no such file in {repo}")
            total = sum(f.size for f in plan)
            report(f"{role} {source}: {len(plan)} files, {human(total)}")
            for f in plan:
                report(f"  {human(f.size):>10}  {f.path}")
            path = download(repo, m.cache_dir, [f.path for f in plan])
            if single:
                path = path / single[1]
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"downloading {source!r} failed: {exc}") from exc
        out.append(Fetched(role, source, path, True, len(plan), total))
    translator = next((f for f in out if f.role == "translator"), None)
    if convert and translator is not None and not is_ctranslate2_dir(translator.path):
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
