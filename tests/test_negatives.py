"""Issue #22: what people say they do not want ("bez cilvēkiem") and the styles they name,
from the text to the translator, the prompt, the negative prompt and the caption."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.texts import error_text, job_caption
from bot.user_texts import help_text
from core.app import open_service
from core.jobs.job import Request
from core.lang.concepts import ConceptRegistry
from core.lang.negation import kept_expressions, split_negatives
from core.lang.options import BadOption, parse_options
from core.lang.prompt import PromptBuilder
from core.lang.styles import Styles
from core.lang.translate import Translators
from tests.fakes import FakeGenerator
from tests.helpers import make_config

ROOT = Path(__file__).resolve().parent.parent
STYLE_IDS = {
    "watercolor",
    "oil",
    "pencil",
    "charcoal",
    "anime",
    "comic",
    "photo",
    "3d",
    "pixel",
    "stained-glass",
    "linocut",
    "mosaic",
}


class Recording:
    """A fake translator: remembers what it was handed and marks what it returns."""

    name = "recording"

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    def translate(self, texts: Sequence[str], src: str = "lv") -> list[str]:
        self.seen.append(list(texts))
        return [f"EN({t})" for t in texts]


def test_the_sentence_and_its_negative_reach_the_translator_apart() -> None:
    fake = Recording()
    builder = PromptBuilder(ConceptRegistry.load(), Translators.single(fake))
    result = builder.build("pilsēta bez cilvēkiem, akvarelis")
    assert fake.seen == [["pilsēta", "cilvēkiem"]]  # one batch: the sentence, its negative
    assert result.prompt == "EN(pilsēta), watercolor painting, soft washes of colour"
    assert result.negative == "EN(cilvēkiem)" and result.negative_source == "cilvēkiem"
    assert result.style == "watercolor"


@pytest.mark.parametrize(
    ("text", "positive", "negatives"),
    [
        ("vecrīga bez cilvēkiem", "vecrīga", ["cilvēkiem"]),
        ("ainava bez mājām un ceļiem", "ainava", ["mājām un ceļiem"]),
        ("jūra bez mākoņiem, koku un putnu", "jūra", ["mākoņiem, koku un putnu"]),
        ("ainava bez mājām un kalni fonā", "ainava un kalni fonā", ["mājām"]),
        ("pilsēta bez cilvēkiem, vakara gaisma", "pilsēta, vakara gaisma", ["cilvēkiem"]),
        ("kaķis bez astes uz jumta", "kaķis uz jumta", ["astes"]),
        ("pilseta bez cilvekiem", "pilseta", ["cilvekiem"]),
        ("Rīga bez cilvēkiem, bez mašīnām", "Rīga", ["cilvēkiem", "mašīnām"]),
        ("город без машин и людей ночью", "город ночью", ["машин и людей"]),
        ("skats no Brīvības pieminekļa", "skats no Brīvības pieminekļa", []),  # "no" = from
    ],
)
def test_bez_phrases(text: str, positive: str, negatives: list[str]) -> None:
    assert split_negatives(text) == (positive, negatives)


def test_no_is_a_trigger_only_in_english() -> None:
    assert split_negatives("a beach, no people", english=True) == ("a beach", ["people"])
    assert split_negatives("a forest without people and cars at night") == (
        "a forest at night",
        ["people and cars"],
    )


@pytest.mark.parametrize(("phrase", "why"), kept_expressions())
def test_fixed_expressions_stay_and_say_why(phrase: str, why: str) -> None:
    text = f"kafija {phrase} uz galda"
    assert split_negatives(text) == (text, []) and len(why) > 10


def test_a_concept_after_bez_is_not_drawn_and_its_name_is_the_negative() -> None:
    builder = PromptBuilder(ConceptRegistry.load())
    result = builder.build("Vecrīga bez Brīvības pieminekļa naktī", translate=False)
    assert "brivpiem" not in result.prompt and result.concept_ids == ()
    assert result.negative == "Freedom Monument" and result.negative_source == ""
    both = builder.build("Milda bez piparkūkām", translate=False)
    assert both.concept_ids == ("brivpiem",) and both.negative == "ginger snaps"


@pytest.mark.parametrize(
    ("text", "style", "rest"),
    [
        ("Rīgas doms, akvarelis", "watercolor", "Rīgas doms"),
        ("eļļas glezna stilā Milda", "oil", "Milda"),
        ("akvareļa tehnikā ainava", "watercolor", "ainava"),
        ("suns anime stilā", "anime", "suns"),
        ("Рига в стиле аниме", "anime", "Рига"),
        ("Riga in watercolor style", "watercolor", "Riga"),
        ("kaķis, 3D", "3d", "kaķis"),
        ("ainava, pikseļu māksla", "pixel", "ainava"),
        ("baznīca, vitrāža", "stained-glass", "baznīca"),
        ("akvarelis uz galda", None, "akvarelis uz galda"),  # a painting on a table
        # the last comma part must be the style alone, not merely start with one
        ("kaķis, akvarelis uz galda", None, "kaķis, akvarelis uz galda"),
        ("Rīga, eļļas glezna ar rāmi", None, "Rīga, eļļas glezna ar rāmi"),
        ("piparkūku stilā māja", None, "piparkūku stilā māja"),  # a concept as a style
    ],
)
def test_styles_only_where_they_stand_as_one(text: str, style: str | None, rest: str) -> None:
    parsed = PromptBuilder(ConceptRegistry.load()).parse(text)
    assert (parsed.style.id if parsed.style else None, parsed.text) == (style, rest)


def test_the_style_table_and_the_flag() -> None:
    assert {s.id for s in Styles.load()} >= STYLE_IDS
    assert parse_options("Rīga --stils eļļas glezna", 50)[1].style == "oil"
    with pytest.raises(BadOption) as err:
        parse_options("Rīga --stils kubisms", 50)
    assert "akvarelis (watercolor)" in error_text(err.value, "lv")
    assert "akvarelis (watercolor)" in help_text([], "lv") and "bez cilvēkiem" in help_text([])


async def test_a_request_draws_without_what_it_does_not_want(tmp_path: Path) -> None:
    fake = Recording()
    async with open_service(
        make_config(tmp_path), generator=FakeGenerator(), translators=Translators.single(fake)
    ) as svc:
        request = Request("test", "u1", "u1", "pilsēta bez cilvēkiem, akvarelis --ne mašīnas")
        sub = await svc.handle(request)
        job = await asyncio.wait_for(sub.handle.wait(), 10)
    assert fake.seen == [["pilsēta", "mašīnas, cilvēkiem"]]
    assert job.prompt == "EN(pilsēta), watercolor painting, soft washes of colour"
    assert job.params.negative_prompt.startswith("lowres")
    assert job.params.negative_prompt.endswith(", EN(mašīnas, cilvēkiem)")
    assert job.options.style == "watercolor"
    caption = job_caption(job, (), "lv", False)
    assert "stils: akvarelis" in caption


def test_core_prompt_prints_negative_source_and_style() -> None:
    lines = ["pilsēta bez cilvēkiem, akvarelis", "Milda --stils anime --ne koki", "kaķis"]
    proc = subprocess.run(
        [sys.executable, "-m", "core", "prompt", "--jsonl", "--no-translate"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=Path.cwd(),
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["input"] for r in rows] == lines
    assert [(r["source"], r["negative_source"], r["style"]) for r in rows] == [
        ("pilsēta", "cilvēkiem", "watercolor"),
        ("Milda", "koki", "anime"),
        ("kaķis", "", None),
    ]


def load_region_cases() -> list[tuple[str, frozenset[str], str, str, str]]:
    """tests/data/region_cases.tsv: text, concept ids drawn, lang, negative source, style."""
    cases = []
    for line in (ROOT / "tests/data/region_cases.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, ids, lang, negative, style = [*line.split("\t"), "", "", "", ""][:5]
        cases.append((text, frozenset(i for i in ids.split(",") if i), lang, negative, style))
    return cases


REGION_CASES = load_region_cases()


@pytest.fixture(scope="module")
def builder() -> PromptBuilder:
    return PromptBuilder(ConceptRegistry.load())


def test_the_development_set_is_big_new_and_40_percent_negative(builder: PromptBuilder) -> None:
    from tests.test_concepts import CASES, CHAT_CASES

    assert len(REGION_CASES) >= 150
    negative = [
        t
        for t, *_ in REGION_CASES
        if builder.parse(t).negative_source or builder.parse(t).negative_concepts
    ]
    assert len(negative) >= 0.4 * len(REGION_CASES)
    assert sum(1 for _, ids, *_ in REGION_CASES if not ids) >= 0.4 * len(REGION_CASES)
    earlier = {t for t, _ in CASES} | {t for t, _, _ in CHAT_CASES}
    assert not earlier & {t for t, *_ in REGION_CASES}  # new cases only


@pytest.mark.parametrize(
    ("text", "ids", "lang", "negative", "style"),
    REGION_CASES,
    ids=[c[0][:40] for c in REGION_CASES],
)
def test_region_set(
    builder: PromptBuilder, text: str, ids: frozenset[str], lang: str, negative: str, style: str
) -> None:
    p = builder.parse(text)
    assert (frozenset(p.concept_ids), p.lang, p.negative_source, p.style.id if p.style else "") == (
        ids,
        lang,
        negative,
        style,
    )


async def test_a_long_queue_translates_with_one_beam(tmp_path: Path) -> None:
    """benchmarks/README.md: greedy decoding is the lever when many wait (#22)."""
    from core.service import BUSY_QUEUE

    seen: list[int | None] = []

    class Beams:
        name = "beams"
        takes_beams = True

        def translate(
            self, texts: Sequence[str], src: str = "lv", beams: int | None = None
        ) -> list[str]:
            seen.append(beams)
            return list(texts)

    gen = FakeGenerator(step_s=0.2)
    async with open_service(
        make_config(tmp_path), generator=gen, translators=Translators.single(Beams())
    ) as svc:
        subs = [
            await svc.handle(Request("test", f"u{i}", f"u{i}", f"kaķis numur {i}"))
            for i in range(BUSY_QUEUE + 2)
        ]
        for sub in subs:
            await sub.handle.wait()
    assert seen[0] is None and seen[-1] == 1
