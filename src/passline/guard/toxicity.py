"""Toxic and harmful content: a lexicon of words and phrases in categories.

Matching is word-boundary aware (``assessment``, ``Scunthorpe`` and ``classic`` are not
insults) and runs on a normalised copy of the text: lowercase, accents stripped, common
character swaps undone (``1d10t``, ``@ss``, ``sh!t``) and letters repeated for emphasis
shortened (``stuuupid``). Positions refer to the original text (the normalisation keeps
every character in place).

A lexicon is a blunt instrument: it catches what is said plainly and misses what is said
politely. It is fast (one compiled pattern per category) and explainable (every hit names
its category and where it is), which is what a guard in front of every call needs; a
policy can add its own terms.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Literal

from pydantic import field_validator

from passline.guard.base import Action, Guard, GuardConfig, GuardContext, Span, Verdict, counts

__all__ = ["CATEGORIES", "LEXICON", "ToxicityConfig", "ToxicityGuard", "find_toxic"]

# Each entry is a regex fragment matched between word boundaries.
LEXICON: dict[str, list[str]] = {
    "insult": [
        r"idiots?",
        r"idiotic",
        r"stupid(?:est|ity)?",
        r"morons?",
        r"moronic",
        r"imbeciles?",
        r"dumb(?:ass|asses)?",
        r"losers?",
        r"pathetic",
        r"worthless",
        r"useless piece of \w+",
        r"retards?",
        r"retarded",
        r"cretins?",
        r"dimwits?",
        r"halfwits?",
        r"nitwits?",
        r"scumbags?",
        r"lowlifes?",
        r"shut up",
        r"go to hell",
        r"nobody (?:likes|cares about) you",
        r"you suck",
    ],
    "profanity": [
        r"fuck(?:s|ed|er|ers|ing|in)?",
        r"motherfuck(?:er|ers|ing)?",
        r"shit(?:s|ty|head|heads)?",
        r"bullshit",
        r"bitch(?:es|y)?",
        r"bastards?",
        r"assholes?",
        r"arse(?:hole|holes)?",
        r"dickheads?",
        r"cunts?",
        r"wankers?",
        r"piss(?:ed)? off",
        r"crap(?:py)?",
        r"damn(?:ed|it)?",
        r"putain",
        r"merde",
        r"connard(?:e|s)?",
        r"salope",
    ],
    "threat": [
        r"i(?:'ll| will| am going to|'m going to|m gonna| gonna)"
        r" (?:kill|hurt|destroy|find|beat|shoot|stab) you",
        r"you(?:'re| are) (?:dead|going to die|gonna die)",
        r"watch your back",
        r"i know where you live",
        r"(?:kill|shoot|stab|murder) (?:you|him|her|them) all",
        r"you will (?:pay|regret)",
        r"blow (?:you|it|them) up",
    ],
    "hate": [
        r"(?:all|those|these) (?:\w+ )?(?:people|immigrants|foreigners) (?:are|should)"
        r" (?:animals|vermin|scum|die|be (?:killed|deported|exterminated))",
        r"subhumans?",
        r"ethnic cleansing",
        r"master race",
        r"white power",
        r"go back to your (?:own )?country",
        r"gas the \w+",
        r"kill all \w+",
    ],
    "self_harm": [
        r"kill myself",
        r"end my life",
        r"suicide",
        r"suicidal",
        r"want to die",
        r"self[- ]harm",
        r"cut(?:ting)? myself",
        r"hurt myself",
        r"overdose on",
    ],
    "violence": [
        r"how (?:to|do i|can i) (?:make|build|assemble) (?:a |an )?"
        r"(?:bomb|explosive|pipe bomb|molotov|napalm|nerve agent|bioweapon)",
        r"(?:make|build|synthesi[sz]e) (?:a |an )?"
        r"(?:bomb|explosives?|nerve agent|sarin|ricin|meth(?:amphetamine)?)",
        r"how (?:to|do i|can i) (?:kill|poison|murder) (?:someone|somebody|a person|my \w+)",
        r"school shooting",
        r"mass shooting",
        r"untraceable (?:gun|weapon|poison)",
    ],
    "sexual": [
        r"porn(?:o|ography|ographic)?",
        r"nudes?",
        r"sexting",
        r"explicit sex(?:ual)?",
        r"blow ?jobs?",
        r"hand ?jobs?",
        r"child porn\w*",
        r"cp links?",
    ],
}
CATEGORIES = tuple(LEXICON)

_SWAPS = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "l",
        "€": "e",
    }
)

_LOOKALIKE = re.compile(r"[013457@$!|€](?=[\w@$!|€])")


def normalise(text: str) -> str:
    """A same-length copy: lowercase, accents dropped, look-alike characters swapped."""
    out = []
    for ch in text:
        base = unicodedata.normalize("NFKD", ch)
        base = "".join(c for c in base if not unicodedata.combining(c))[:1] or ch
        out.append(base.lower() if len(base.lower()) == 1 else ch)
    # a look-alike counts inside a word ("sh!t", "1d10t"), not as punctuation ("IDIOT!")
    return _LOOKALIKE.sub(lambda m: m.group(0).translate(_SWAPS), "".join(out))


@lru_cache(maxsize=64)
def _compiled(terms: tuple[tuple[str, tuple[str, ...]], ...]) -> list[tuple[str, re.Pattern[str]]]:
    patterns = []
    for category, words in terms:
        # letters repeated for emphasis ("stuuupid") match the lexicon's single letter
        body = "|".join(words)
        patterns.append((category, re.compile(rf"(?<!\w)(?:{_stretch(body)})(?!\w)")))
    return patterns


def _stretch(body: str) -> str:
    """Let each literal letter of the pattern repeat (``o`` -> ``o+``)."""
    return re.sub(r"(?<![\\\[?])([a-z])(?![+*?{])", r"\1+", body)


def find_toxic(
    text: str, categories: tuple[str, ...] = CATEGORIES, extra: tuple[str, ...] = ()
) -> list[tuple[str, int, int]]:
    """(category, start, end) of every lexicon hit in ``text``."""
    terms = tuple((c, tuple(LEXICON[c])) for c in categories)
    if extra:
        terms += (("custom", tuple(re.escape(t.lower()) for t in extra)),)
    normal = normalise(text)
    hits = []
    for category, pattern in _compiled(terms):
        hits += [(category, m.start(), m.end()) for m in pattern.finditer(normal)]
    return sorted(hits, key=lambda h: h[1])


class ToxicityConfig(GuardConfig):
    """Toxic or harmful content.

    Attributes:
        categories: the lexicon categories to look for; empty: all of them.
        terms: extra words or phrases (category ``custom``).
        min_hits: the number of hits at which the guard fires.
    """

    type: Literal["toxicity"] = "toxicity"
    action: Action = "block"
    categories: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    min_hits: int = 1

    can_redact = True

    @field_validator("categories")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in CATEGORIES]
        if unknown:
            raise ValueError(f"unknown category {unknown[0]!r}; choose among {list(CATEGORIES)}")
        return value


class ToxicityGuard(Guard[ToxicityConfig]):
    def check(self, text: str, context: GuardContext) -> Verdict:
        hits = find_toxic(text, self.config.categories or CATEGORIES, self.config.terms)
        hit = len(hits) >= max(self.config.min_hits, 1)
        by_category = counts([c for c, _, _ in hits])
        return Verdict(
            hit=hit,
            reasons=[f"{n} {c}" for c, n in by_category.items()] if hit else [],
            findings=[{"category": c, "start": s, "end": e} for c, s, e in hits] if hit else [],
            spans=[Span(s, e, "TOXIC") for _, s, e in hits],
            score=min(1.0, len(hits) / 3) if hits else 0.0,
        )
