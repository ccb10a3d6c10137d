"""Scorers that read meaning: embedding similarity, groundedness, answer relevance, and
context precision and recall, on local MiniLM embeddings plus lexical overlap.

No NLI model installs offline (docs/decisions.md), so support is measured, not inferred.
A claim (a sentence of the answer that asserts something) is *supported* by the context
when

- every figure it contains appears in the context (a figure nobody gave the model is an
  invention, whatever else the sentence says), and
- its support score reaches ``support_threshold`` (0.6 by default): the larger of its best
  cosine similarity to one sentence of the context, and the share of its content words
  found in one passage.

Limits, stated in docs/evaluation.md: a claim that negates its source ("leave cannot be
carried over") shares its words and much of its meaning, and passes; a claim built from
two passages scores on the better one only; similarity thresholds were set on English
HR-policy text with all-MiniLM-L6-v2 and may need tuning for other domains.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from passline.evaluation.scorers import (
    Sample,
    Score,
    Scorer,
    ScoringEnv,
    _check_number,
    register_scorer,
)
from passline.evaluation.text import claims, content_words, figures, is_refusal, sentences

__all__ = [
    "AnswerRelevance",
    "ContextPrecision",
    "ContextRecall",
    "EmbeddingSimilarity",
    "Groundedness",
    "support",
]

SUPPORT_THRESHOLD = 0.6


def support(
    env: ScoringEnv, statements: Sequence[str], context: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """For each statement, its support score in [0, 1] by ``context`` (0 when it holds a
    figure the context lacks), and the context sentence closest to it."""
    if not statements:
        return np.zeros(0, dtype=np.float32), []
    if not context:
        return np.zeros(len(statements), dtype=np.float32), [""] * len(statements)
    units = [u for passage in context for u in sentences(passage)] or list(context)
    vectors = env.embed([*statements, *units])
    cosine = vectors[: len(statements)] @ vectors[len(statements) :].T
    best_unit = cosine.argmax(axis=1)
    semantic = cosine.max(axis=1)
    passages = [content_words(p) for p in context]
    known_figures = set().union(*(figures(p) for p in context))
    lexical = np.zeros(len(statements), dtype=np.float32)
    for i, statement in enumerate(statements):
        words = content_words(statement)
        if words:
            lexical[i] = max(len(words & p) / len(words) for p in passages)
        if not figures(statement) <= known_figures:
            semantic[i] = lexical[i] = 0.0
    scores = np.clip(np.maximum(semantic, lexical), 0.0, 1.0)
    return scores, [units[j] for j in best_unit]


def _threshold(name: str, value: float) -> float:
    _check_number(name, "support_threshold", value, 0.0, 1.0)
    return value


class Groundedness(Scorer):
    """The share of the answer's claims supported by the retrieved context (faithfulness);
    an answer that claims nothing (a refusal) is fully grounded."""

    type = "groundedness"

    def __init__(self, support_threshold: float = SUPPORT_THRESHOLD, **common: Any) -> None:
        super().__init__(**common)
        self.support_threshold = _threshold(self.type, support_threshold)

    def score(self, sample: Sample) -> Score:
        found = claims(sample.answer)
        if not found:
            return Score(1.0, "no claims: nothing to ground")
        if not sample.context:
            return Score(0.0, f"{len(found)} claim(s) and no context to support them")
        scores, evidence = support(sample.env, found, sample.context)
        supported = scores >= self.support_threshold
        rows = [
            {
                "claim": c[:300],
                "support": round(float(s), 3),
                "supported": bool(ok),
                "evidence": e[:300],
            }
            for c, s, ok, e in zip(found, scores, supported, evidence, strict=True)
        ]
        missing = [r["claim"] for r in rows if not r["supported"]]
        reason = f"{int(supported.sum())} of {len(found)} claims supported" + (
            f"; unsupported: {missing[0][:120]!r}" if missing else ""
        )
        return Score(float(supported.mean()), reason, {"claims": rows})


class AnswerRelevance(Scorer):
    """How closely the answer addresses the question: the cosine similarity of their
    embeddings (a refusal scores 1 on a case that should be refused, 0 otherwise)."""

    type = "answer_relevance"

    def score(self, sample: Sample) -> Score:
        if is_refusal(sample.answer):
            right = sample.case.refuse
            return Score(float(right), "refused" + (" as expected" if right else ""))
        vectors = sample.env.embed([sample.question, sample.answer])
        value = float(vectors[0] @ vectors[1])
        return Score(max(0.0, value), f"cosine(question, answer) = {value:.3f}")


class EmbeddingSimilarity(Scorer):
    """The cosine similarity of the answer and ``expected`` (the best of a list) in
    all-MiniLM-L6-v2 space, negative values as 0."""

    type = "embedding_similarity"
    needs = ("expected",)

    def score(self, sample: Sample) -> Score:
        wanted = sample.expected if isinstance(sample.expected, list) else [sample.expected]
        texts = [str(w) for w in wanted]
        vectors = sample.env.embed([sample.answer, *texts])
        value = float((vectors[1:] @ vectors[0]).max())
        return Score(max(0.0, value), f"cosine(answer, expected) = {value:.3f}")


class ContextRecall(Scorer):
    """The share of the case's ``reference_facts`` supported by the retrieved context: did
    retrieval find what the answer needs?"""

    type = "context_recall"
    needs = ("reference_facts",)

    def __init__(self, support_threshold: float = SUPPORT_THRESHOLD, **common: Any) -> None:
        super().__init__(**common)
        self.support_threshold = _threshold(self.type, support_threshold)

    def score(self, sample: Sample) -> Score:
        facts = list(sample.case.reference_facts)
        if not sample.context:
            return Score(0.0, "nothing was retrieved")
        scores, _ = support(sample.env, facts, sample.context)
        found = scores >= self.support_threshold
        missing = [f for f, ok in zip(facts, found, strict=True) if not ok]
        reason = f"{int(found.sum())} of {len(facts)} reference facts in the context"
        return Score(float(found.mean()), reason, {"missing": missing} if missing else {})


class ContextPrecision(Scorer):
    """Average precision of the retrieved passages, in rank order: a passage is relevant
    when it supports at least one of the case's ``reference_facts``."""

    type = "context_precision"
    needs = ("reference_facts",)

    def __init__(self, support_threshold: float = SUPPORT_THRESHOLD, **common: Any) -> None:
        super().__init__(**common)
        self.support_threshold = _threshold(self.type, support_threshold)

    def score(self, sample: Sample) -> Score:
        if not sample.context:
            return Score(None, "nothing was retrieved: precision is undefined")
        facts = list(sample.case.reference_facts)
        relevant = np.array(
            [
                bool((support(sample.env, facts, [p])[0] >= self.support_threshold).any())
                for p in sample.context
            ]
        )
        if not relevant.any():
            return Score(0.0, f"none of the {len(relevant)} passages holds a reference fact")
        ranks = np.arange(1, len(relevant) + 1)
        precision_at = np.cumsum(relevant) / ranks
        value = float((precision_at * relevant).sum() / relevant.sum())
        return Score(
            value,
            f"{int(relevant.sum())} of {len(relevant)} passages relevant",
            {"relevant": relevant.tolist()},
        )


for _builtin in (
    Groundedness,
    AnswerRelevance,
    EmbeddingSimilarity,
    ContextRecall,
    ContextPrecision,
):
    register_scorer(_builtin.type, _builtin)
