"""LLM-as-judge: a model grades the answer against a rubric, on a 1-to-``scale`` score.

The judge is any model Passline knows (``model``: the embedded one by default, or a
configured OpenAI-compatible endpoint), called through ``LlmService.chat`` so its tokens
and cost are traced and priced; the run adds the cost up as ``judge_cost_usd``. The judge
is asked for ``{"score": n, "reason": "..."}`` with a JSON schema (bounded lengths: without
them a small model repeats itself until its token limit). An answer that does not parse is
asked again up to ``retries`` times; if none parses, the case is left unscored with the
reason. ``repeats`` > 1 judges the same answer several times (at temperature 0.7 unless
set) and reports the mean, the variance and each score: a judge that disagrees with itself
is a judge to distrust.
"""

from __future__ import annotations

import json
import re
import statistics
from typing import Any

from passline.errors import InvalidInput
from passline.evaluation.scorers import Sample, Score, Scorer, _check_number, register_scorer

__all__ = ["LlmJudge", "parse_verdict"]

SYSTEM = (
    "You grade an answer to a question. Follow the rubric. Reply with JSON only: "
    '{{"score": <integer from 1 to {scale}>, "reason": "<one short sentence>"}}.'
)


def parse_verdict(text: str, scale: int) -> tuple[int, str] | None:
    """(score, reason) from a judge's answer: JSON first, then a ``score: n`` pattern;
    None when neither gives an integer in [1, scale]."""
    body = text.strip()
    fenced = re.search(r"\{.*\}", body, re.DOTALL)
    if fenced:
        try:
            data = json.loads(fenced.group())
        except ValueError:
            data = None
        if isinstance(data, dict):
            value = data.get("score")
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)
            if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= scale:
                return value, str(data.get("reason", ""))[:300]
    match = re.search(r"\bscore\W{0,3}(\d+)\s*(?:/\s*\d+)?", body, re.IGNORECASE)
    if match and 1 <= int(match.group(1)) <= scale:
        return int(match.group(1)), ""
    return None


def _check_integer(scorer: str, param: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(
            f"The {param!r} parameter of scorer {scorer!r} must be an integer in "
            f"[{low}, {high}]. Got {value!r} instead."
        )


class LlmJudge(Scorer):
    """A model grades the answer against ``rubric`` (1 to ``scale``, mapped to [0, 1]);
    unparseable answers are retried, then the case is unscored with the reason."""

    type = "llm_judge"

    def __init__(
        self,
        rubric: str = "Is the answer correct, complete and supported by the context?",
        model: str | None = None,
        scale: int = 5,
        repeats: int = 1,
        retries: int = 2,
        temperature: float | None = None,
        max_tokens: int = 120,
        **common: Any,
    ) -> None:
        super().__init__(**common)
        if not isinstance(rubric, str) or not rubric.strip():
            raise InvalidInput(
                f"The 'rubric' parameter of scorer {self.type!r} must be a non-empty string. "
                f"Got {rubric!r} instead."
            )
        for param, value, low, high in (
            ("scale", scale, 2, 10),
            ("repeats", repeats, 1, 20),
            ("retries", retries, 0, 5),
            ("max_tokens", max_tokens, 16, 1024),
        ):
            _check_integer(self.type, param, value, low, high)
        _check_number(self.type, "temperature", temperature, 0.0, 2.0, allow_none=True)
        self.rubric = rubric
        self.model = model
        self.scale = scale
        self.repeats = repeats
        self.retries = retries
        self.temperature = temperature
        self.max_tokens = max_tokens

    def _messages(self, sample: Sample) -> list[dict[str, str]]:
        parts = [f"Rubric: {self.rubric}", f"Question: {sample.question}"]
        if sample.expected is not None:
            parts.append(f"Reference answer: {sample.expected}")
        if sample.case.reference_facts:
            parts.append("Reference facts: " + "; ".join(sample.case.reference_facts))
        if sample.context:
            parts.append("Context:\n" + "\n".join(c[:600] for c in sample.context[:4]))
        parts.append(f"Answer to grade: {sample.answer}")
        return [
            {"role": "system", "content": SYSTEM.format(scale=self.scale)},
            {"role": "user", "content": "\n\n".join(parts)},
        ]

    def _schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                # an enum, not minimum/maximum: llama.cpp's grammar enforces enums only
                "score": {"type": "integer", "enum": list(range(1, self.scale + 1))},
                "reason": {"type": "string", "maxLength": 100},
            },
            "required": ["score", "reason"],
        }

    def _params(self, repeat: int) -> dict[str, Any]:
        default = 0.0 if self.repeats == 1 else 0.7
        temperature = self.temperature if self.temperature is not None else default
        return {"temperature": temperature, "max_tokens": self.max_tokens, "seed": repeat}

    def _judge_once(self, sample: Sample, repeat: int) -> tuple[int | None, str, float, int]:
        """One verdict (score or None), its reason, cost and attempts."""
        cost, last = 0.0, ""
        for attempt in range(1, self.retries + 2):
            try:
                text, spent, _ = sample.env.judge(
                    self._messages(sample), self.model, self._params(repeat), self._schema()
                )
            except Exception as exc:  # noqa: BLE001 - a failed call is a failed attempt
                last = f"judge call failed: {type(exc).__name__}: {exc}"
                continue
            cost += spent
            verdict = parse_verdict(text, self.scale)
            if verdict is not None:
                return verdict[0], verdict[1], cost, attempt
            last = f"unparseable judge answer: {text[:120]!r}"
        return None, last, cost, self.retries + 1

    def score(self, sample: Sample) -> Score:
        verdicts = [self._judge_once(sample, r) for r in range(self.repeats)]
        cost = sum(v[2] for v in verdicts)
        values = [(v[0] - 1) / (self.scale - 1) for v in verdicts if v[0] is not None]
        details: dict[str, Any] = {
            "model": self.model or "default",
            "scores": [v[0] for v in verdicts],
            "attempts": [v[3] for v in verdicts],
        }
        if not values:
            reason = f"unscored after {self.retries + 1} attempt(s): {verdicts[-1][1]}"
            return Score(None, reason, details, cost)
        if len(values) > 1:
            details["variance"] = round(statistics.pvariance(values), 6)
            details["stdev"] = round(statistics.pstdev(values), 6)
        reason = next((v[1] for v in verdicts if v[0] is not None and v[1]), "")
        return Score(statistics.fmean(values), reason, details, cost)


register_scorer(LlmJudge.type, LlmJudge)
