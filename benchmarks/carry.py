"""Which way do concepts survive whole-sentence translation? (issue #10)

Compares the two carry strategies of `core.lang.prompt.PromptBuilder` on the Latvian
sentences of tests/data/chat_cases.tsv that name a concept:
  * refind      — the translator gets the sentence as written; concepts are found again in
                  the English (English names, known translator renderings, copied names);
  * placeholder — concept spans are replaced by their model tokens before translation and
                  found again afterwards.
Translators: a glossary fake that behaves like a real MT model (translates what it knows,
copies names it does not), an identity "translator" (copies everything) and the tiny random
OPUS-MT and NLLB models (their output is noise: only the fallback can work).
Reported: concepts placed where the English shows them, concepts appended, concepts placed
twice (must be 0), and inflected concept mentions whose case ending (the "in"/"at"/"of"
the sentence needs) the translator never saw. Run `python -m benchmarks.carry`.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from core.lang.concepts import ConceptRegistry
from core.lang.prompt import PromptBuilder
from core.lang.translate import IdentityTranslator, Translator, Translators, load_translator

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "chat_cases.tsv"

# What a real lv->en model does with the words of the test sentences, in miniature: it knows
# common words and the concepts' usual renderings, and copies the rest (names, tokens).
GLOSSARY = {
    r"melngalvju nam\w*": "the House of the Blackheads",
    r"piparkūk\w*": "gingerbread",
    r"brīvības piemineklim|brīvības pieminekļa|brīvības piemineklis": "the Freedom Monument",
    r"vanšu tilt\w*": "the Vanšu bridge",
    r"gaismas pil\w*": "the Castle of Light",
    r"latvijas universitāt\w*": "the University of Latvia",
    r"dziesmu svētk\w*": "the Song Festival",
    r"rīgas melnā balzama|rīgas balzams|rīgas melnajā balzamā": "Riga Black Balsam",
    r"latvju zīmēm|latvju raksti": "Latvian signs",
    r"nacionālajā bibliotēkā": "the National Library",
    r"sēž": "sits",
    r"ēd": "eats",
    r"un": "and",
    r"pie": "at",
    r"uz": "on",
    r"blakus": "next to",
    r"guļ": "sleeps",
    r"kaķis": "cat",
    r"skatās": "looks",
    r"garām": "past",
    r"lasa": "reads",
    r"grāmatu": "a book",
    r"galda": "table",
    r"trīs": "three",
    r"akvareļi": "watercolours",
    r"sienas": "wall",
    r"saulrietā": "at sunset",
    r"naktī": "at night",
    r"ziemā": "in winter",
    r"sniegā": "in the snow",
    r"ar": "with",
    r"pudelei": "bottle",
    r"gājiens": "parade",
}


class GlossaryTranslator:
    name = "glossary"

    def translate(self, texts: Sequence[str], src: str = "lv") -> list[str]:
        out = []
        for text in texts:
            for pattern, english in GLOSSARY.items():
                text = re.sub(rf"\b{pattern}\b", english, text, flags=re.IGNORECASE)
            out.append(text)
        return out


def sentences() -> list[str]:
    out = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("# "):
            continue
        text, ids, lang = [*line.split("\t"), "", ""][:3]
        if ids and lang == "lv":
            out.append(text)
    return out


def evaluate(name: str, translator: Translator, texts: list[str]) -> None:
    registry = ConceptRegistry.load()
    for carry in ("refind", "placeholder"):
        builder = PromptBuilder(registry, Translators.single(translator), carry=carry)
        placed = appended = twice = hidden_case = total = 0
        for text in texts:
            parsed = builder.parse(text)
            if parsed.concept_only or parsed.lang != "lv":
                continue
            [english] = builder.translate_many([parsed])
            assert english is not None
            result = builder.assemble(parsed, english)
            found = {m.id for m in registry.find_in_translation(english, parsed.concept_ids)}
            for cid in parsed.concept_ids:
                total += 1
                placed += cid in found
                appended += cid not in found
                twice += result.prompt.count(f"{cid} {registry.get(cid).cls}") > 1
            for m in parsed.concepts:
                nominative = any(m.text.lower() == a.lower() for a in registry.get(m.id).lv)
                hidden_case += carry == "placeholder" and not nominative
        print(
            f"{name:10} {carry:11} concepts {total:3}  placed {placed / total:6.1%}  "
            f"appended {appended / total:6.1%}  twice {twice}  "
            f"case endings hidden {hidden_case}"
        )


def main() -> None:
    texts = sentences()
    print(f"{len(texts)} Latvian sentences with concepts")
    evaluate("glossary", GlossaryTranslator(), texts)
    evaluate("identity", IdentityTranslator(), texts)
    from core.draw.tiny import build_tiny_models

    with tempfile.TemporaryDirectory() as tmp:
        tiny = build_tiny_models(tmp)
        for model in ("opus", "nllb"):
            evaluate(f"tiny-{model}", load_translator(str(tiny[model])), texts)


if __name__ == "__main__":
    main()
