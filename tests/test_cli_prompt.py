from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_core(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=Path.cwd(),
        env=full_env,
        timeout=120,
    )


KEYS = {"input", "normalized", "lang", "concepts", "source", "english", "prompt"}


def test_jsonl_contract_in_order_with_errors(tiny_models: dict[str, Path]) -> None:
    lines = [
        "Rīgas balzama pudele",
        "",
        "kaķis pie Brīvības pieminekļa",
        "x" * 400,
        "the Freedom Monument at night",
        "Rainis",
    ]
    proc = run_core(
        "prompt", "--jsonl", "--translator", str(tiny_models["opus"]), stdin="\n".join(lines) + "\n"
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["input"] for r in rows] == lines
    assert rows[1]["error"] == "empty" and rows[3]["error"] == "too_long"
    for row in (rows[0], rows[2], rows[4], rows[5]):
        assert set(row) >= KEYS
        for c in row["concepts"]:
            assert set(c) == {"id", "start", "end", "text"}
            assert row["normalized"][c["start"] : c["end"]] == c["text"]
            assert c["id"] in row["prompt"]
    assert rows[0]["concepts"][0]["id"] == "rigabalsam" and rows[0]["lang"] == "lv"
    assert isinstance(rows[0]["english"], str)
    assert rows[4]["lang"] == "en" and rows[4]["english"] == rows[4]["normalized"]
    assert rows[2]["source"] == "kaķis pie Brīvības pieminekļa"  # the whole sentence


def test_no_translate_gives_null_english_and_the_source() -> None:
    proc = run_core("prompt", "--json", "--no-translate", "Vanšu tilts saulrietā")
    row = json.loads(proc.stdout)
    assert row["english"] is None and "vansutilts bridge" in row["prompt"]
    assert row["source"] == "Vanšu tilts saulrietā"


def test_other_languages_get_their_code_and_russian_concepts() -> None:
    lines = [
        "Памятник Свободы ночью",
        "katinas ant stogo",
        "Rainis and Aspazija walking in Jūrmala",
        "#gaismaspils naktī",
    ]
    proc = run_core("prompt", "--jsonl", "--no-translate", stdin="\n".join(lines) + "\n")
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["lang"] for r in rows] == ["ru", "lt", "en", "lv"]
    assert rows[0]["concepts"][0]["id"] == "brivpiem" and "brivpiem statue" in rows[0]["prompt"]
    assert rows[2]["concepts"][0]["id"] == "rainis" and "nacbib" in rows[3]["prompt"]
    for r in rows[:3]:
        assert r["source"] == r["normalized"]
    assert rows[3]["source"] == "gaismaspils naktī"  # a hashtag is read as its words


def test_a_language_without_translator_is_shown_untranslated(tiny_models: dict[str, Path]) -> None:
    proc = run_core(
        "prompt",
        "--jsonl",
        "--translator",
        str(tiny_models["opus"]),
        stdin="кот на крыше\nkaķis uz jumta\n",
    )
    ru, lv = (json.loads(line) for line in proc.stdout.splitlines())
    assert ru["lang"] == "ru" and ru["english"] is None and ru["source"] == "кот на крыше"
    assert isinstance(lv["english"], str)
    assert "no translator for ru" in proc.stderr


def test_missing_translator_degrades_with_a_clear_message() -> None:
    proc = run_core("prompt", "--jsonl", "--translator", "nobody/missing", stdin="kaķis uz jumta\n")
    assert proc.returncode == 0
    assert "cannot be reached" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["english"] is None


def test_readable_summary_and_rejected_text() -> None:
    proc = run_core("prompt", "--no-translate", "Milda", "naktī")
    assert proc.returncode == 0 and "brivpiem" in proc.stdout and "language:" in proc.stdout
    bad = run_core("prompt", "--no-translate", "   ")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_tiny_models_command(tmp_path: Path) -> None:
    proc = run_core("tiny-models", str(tmp_path / "m"))
    assert proc.returncode == 0, proc.stderr
    for name in ("sd", "nllb", "opus"):
        assert (
            tmp_path / "m" / name / ("model_index.json" if name == "sd" else "config.json")
        ).is_file()
