"""`python -m core concepts add|list|remove`: trained concepts live in the data dir, never
in the source tree: LoRA weights under `[storage] adapters`/TOKEN/, registry entries in
`[storage] concepts` (read beside the packaged core/lang/concepts.toml). `/reload` makes a
change live."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

from core.config import Config
from core.errors import N_, TrainError
from core.train.lora import LORA_FILE


def _entries(text: str) -> list[str]:
    """The `[[concept]]` blocks of a concepts file, as text (kept as written)."""
    parts = re.split(r"(?m)^(?=\[\[concept\]\])", text)
    return [p for p in parts if p.startswith("[[concept]]")]


def _token(entry: str) -> str:
    return str(tomllib.loads(entry)["concept"][0]["id"])


def installed(config: Config) -> dict[str, Path]:
    """Token -> LoRA weights file of every installed concept."""
    path = config.path(config.storage.concepts)
    if not path.exists():
        return {}
    root = config.path(config.storage.adapters)
    return {
        _token(e): root / _token(e) / LORA_FILE for e in _entries(path.read_text(encoding="utf-8"))
    }


def installed_for(config: Config, model: str) -> dict[str, Path]:
    """Token -> LoRA weights of the installed concepts trained on catalogue model `model`
    (their entry's `base`; none recorded: the default model)."""
    path = config.path(config.storage.concepts)
    if not path.exists():
        return {}
    root = config.path(config.storage.adapters)
    out = {}
    for entry in _entries(path.read_text(encoding="utf-8")):
        base = str(tomllib.loads(entry)["concept"][0].get("base", "")) or config.default_model
        if base == model:
            out[_token(entry)] = root / _token(entry) / LORA_FILE
    return out


def add(config: Config, trained: Path) -> str:
    """Install OUT/TOKEN (from `core train`); returns the token."""
    from core.lang.concepts import ConceptRegistry

    entry_file, weights = trained / "concept.toml", trained / LORA_FILE
    if not entry_file.exists() or not weights.exists():
        raise TrainError(
            N_("{folder} has no concept.toml and {weights}: run `core train` first"),
            folder=str(trained),
            weights=LORA_FILE,
        )
    entry = entry_file.read_text(encoding="utf-8").strip() + "\n"
    token = _token(entry)
    known = {c.id for c in ConceptRegistry.load(extra=config.path(config.storage.concepts))}
    if token in known:
        raise TrainError(N_("{token} is already installed: remove it first"), token=token)
    target = config.path(config.storage.adapters) / token
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(weights, target / LORA_FILE)
    for report in ("scores.json", "contact_sheet.png"):  # the dashboard shows them
        if (trained / report).is_file():
            shutil.copy(trained / report, target / report)
    path = config.path(config.storage.concepts)
    path.parent.mkdir(parents=True, exist_ok=True)
    old = (
        path.read_text(encoding="utf-8")
        if path.exists()
        else ("# Concepts taught with `python -m core train`, installed by `core concepts add`.\n")
    )
    path.write_text(old.rstrip("\n") + "\n\n" + entry, encoding="utf-8")
    ConceptRegistry.load(extra=path)  # the file still loads: a bad entry fails here, loudly
    return token


def remove(config: Config, token: str) -> None:
    path = config.path(config.storage.concepts)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    entries = _entries(text)
    keep = [e for e in entries if _token(e) != token]
    if len(keep) == len(entries):
        raise TrainError(N_("{token} is not an installed concept"), token=token)
    head = re.split(r"(?m)^(?=\[\[concept\]\])", text)[0]
    path.write_text(head + "".join(keep), encoding="utf-8")
    shutil.rmtree(config.path(config.storage.adapters) / token, ignore_errors=True)


def listing(config: Config) -> list[tuple[str, str, bool]]:
    """(token, Latvian name, weights present) of every installed concept."""
    path = config.path(config.storage.concepts)
    if not path.exists():
        return []
    out = []
    for entry in _entries(path.read_text(encoding="utf-8")):
        item = tomllib.loads(entry)["concept"][0]
        weights = config.path(config.storage.adapters) / item["id"] / LORA_FILE
        out.append((item["id"], item.get("name_lv", ""), weights.exists()))
    return out
