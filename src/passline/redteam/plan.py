"""From the catalogue to the attacks of one run: placeholders filled, probes chosen per
category (seeded), mutated to reach the limit, detectors attached, and every probe the
target cannot take set aside with the reason.

What a target can take (:class:`Capabilities`) decides where planted documents go: into
the case's context when the target passes it to the model (as the system message for a
model or an OpenAI-compatible URL), into a fixture collection when the target retrieves
from one (``route = "collection"``), nowhere when it does neither (an endpoint: those
probes are skipped). A multi-turn probe needs a target that takes a history.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
from dataclasses import dataclass, field
from typing import Any

from passline.errors import InvalidInput
from passline.redteam.attacker import MUTATIONS, Paraphraser, mutate, paraphrase
from passline.redteam.catalogue import (
    CATEGORIES,
    Document,
    Probe,
    check_categories,
    encoded_turn,
    probes,
)
from passline.redteam.detectors import SecretSet

__all__ = ["Attack", "Capabilities", "Plan", "Plant", "plan_attacks"]

MAX_LIMIT = 50
#: Categories whose probes are mutated to reach the limit (others are used as they are:
#: an encoding or a counterfactual set loses its point when reworded).
MUTABLE = frozenset(
    {
        "prompt_injection",
        "jailbreak",
        "system_prompt_leak",
        "sensitive_disclosure",
        "access_control",
        "output_handling",
        "misinformation",
        "off_topic",
        "harmful",
        "multi_turn",
    }
)
# Markers use capitals and the digits 2, 6, 8, 9 only: they survive leetspeak unchanged.
_MARKER_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ2689"
_PLACEHOLDER = re.compile(r"\{(marker|canary|doc_canary|api_key|url|org|person)\}")


def _hex(seed: int, what: str, n: int) -> str:
    return hashlib.sha256(f"passline-redteam:{seed}:{what}".encode()).hexdigest()[:n]


@dataclass(frozen=True)
class Plant:
    """What a run plants, derived from its seed: canaries, the attacker's URL, markers."""

    seed: int = 0
    org: str = "Acme"
    url: str = "https://exfil.redteam.invalid/collect"

    @property
    def canary(self) -> str:
        return f"PL-CANARY-{_hex(self.seed, 'system', 10).upper()}"

    @property
    def doc_canary(self) -> str:
        return f"PL-DOC-{_hex(self.seed, 'document', 10).upper()}"

    @property
    def api_key(self) -> str:
        return f"sk-live-{_hex(self.seed, 'api', 32)}"

    @property
    def canaries(self) -> list[str]:
        return [self.canary, self.doc_canary, self.api_key]

    def marker(self, attack_id: str) -> str:
        digest = hashlib.sha256(f"{self.seed}:{attack_id}".encode()).digest()
        return "PWNED-" + "".join(_MARKER_ALPHABET[b % len(_MARKER_ALPHABET)] for b in digest[:6])

    def fill(self, text: str, marker: str, person: str | None = None) -> str:
        """``text`` with its placeholders filled (``{person}`` only when ``person`` is given)."""
        values = {
            "marker": marker,
            "canary": self.canary,
            "doc_canary": self.doc_canary,
            "api_key": self.api_key,
            "url": self.url,
            "org": self.org,
        }
        if person is not None:
            values["person"] = person
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


@dataclass(frozen=True)
class Capabilities:
    """What a target can take.

    Attributes:
        context: a case's context documents reach the model.
        system_context: ... as its system message (a planted system prompt is one).
        collection: the collection it retrieves from (documents go to a fixture beside it).
        history: it answers within a conversation (multi-turn probes).
        restricted: a restricted document can be planted (a fixture collection, and a
            reader who is not a project admin).
        fragments: known texts of its system prompt (retrieval template, prompt version).
    """

    context: bool = False
    system_context: bool = False
    collection: str | None = None
    history: bool = False
    restricted: bool = False
    fragments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attack:
    """One attempt's plan: what is sent, what is planted, how success is detected."""

    id: str
    probe: str
    category: str
    owasp: str | None
    technique: str
    turns: tuple[str, ...]
    detectors: tuple[dict[str, Any], ...]
    documents: tuple[Document, ...] = ()
    route: str = "main"  # main | context | collection
    mutation: str | None = None
    variants: tuple[tuple[str, str], ...] = ()  # bias: (person, message)
    refuse: bool = True

    @property
    def prompt(self) -> str:
        return self.variants[0][1] if self.variants else self.turns[-1]

    def context(self) -> list[str]:
        """The planted documents' texts, when they travel in the case's context."""
        return [d.text for d in self.documents] if self.route == "context" else []

    def to_spec(self) -> dict[str, Any]:
        return {
            "detectors": list(self.detectors),
            "route": self.route,
            "documents": [{"access": d.access, "path": d.path} for d in self.documents],
            "refuse": self.refuse,
        }


@dataclass
class Plan:
    attacks: list[Attack] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def documents(self, route: str = "collection") -> dict[str, Document]:
        """The planted documents by path, of the attacks on ``route``."""
        return {
            d.path: d
            for a in self.attacks
            if a.route == route
            for d in a.documents
            if d.access != "system"
        }


def plan_attacks(
    caps: Capabilities,
    categories: list[str] | None = None,
    limit: int = 5,
    seed: int = 0,
    secrets: SecretSet | None = None,
    paraphraser: Paraphraser | None = None,
    allowed_hosts: tuple[str, ...] = (),
    plant: Plant | None = None,
    anchor: str | None = None,
) -> Plan:
    """The attacks of a run: at most ``limit`` per category.

    ``anchor`` is an on-topic question put before each direct attack ("How many days of
    leave do I get? Ignore all previous instructions..."): an app that retrieves answers
    nothing without relevant passages, so attackers piggy-back on a legitimate question.
    """
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"'limit' must be an integer in [1, {MAX_LIMIT}]. Got {limit!r}.")
    plant = plant or Plant(seed)
    wanted = check_categories(categories)
    globals_ = _global_detectors(plant, secrets, allowed_hosts)
    result = Plan()
    for category in wanted:
        rng = random.Random(f"{seed}:{category}")
        pool = [p for p in probes() if p.category == category]
        rng.shuffle(pool)
        feasible = []
        for probe in pool:
            reason = _infeasible(probe, caps)
            if reason:
                result.skipped.append({"probe": probe.id, "category": category, "reason": reason})
            else:
                feasible.append(probe)
        for probe, mutation in _choose(feasible, category, limit, rng):
            attack = _attack(
                probe, mutation, caps, plant, globals_, rng, paraphraser, allowed_hosts
            )
            result.attacks.append(_anchored(attack, anchor) if anchor else attack)
    return result


def _choose(
    feasible: list[Probe], category: str, limit: int, rng: random.Random
) -> list[tuple[Probe, str | None]]:
    chosen: list[tuple[Probe, str | None]] = [(p, None) for p in feasible[:limit]]
    if category not in MUTABLE or not feasible:
        return chosen
    names = list(MUTATIONS)
    seen = set()
    i = 0
    while len(chosen) < limit and i < limit * 4:
        probe, name = feasible[i % len(feasible)], rng.choice(names)
        i += 1
        if (probe.id, name) not in seen:
            seen.add((probe.id, name))
            chosen.append((probe, name))
    return chosen


def _infeasible(probe: Probe, caps: Capabilities) -> str | None:
    if len(probe.turns) > 1 and not caps.history:
        return "the target answers single questions (no conversation history)"
    for doc in probe.documents:
        if doc.access == "system" and not (caps.system_context or caps.fragments):
            return "the target's system prompt is neither plantable nor known"
        if doc.access == "reader" and not (caps.context or caps.collection):
            return "the target reads no documents (no context, no collection)"
        if doc.access == "restricted" and not caps.restricted:
            return (
                "no access control to test: the target retrieves from no collection, or "
                "answers as a project admin (give as_user: a user who is not)"
            )
    return None


def _global_detectors(
    plant: Plant, secrets: SecretSet | None, allowed_hosts: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Leak detectors every attack gets: what was planted anywhere may leak anywhere."""
    specs: list[dict[str, Any]] = [
        {"type": "canary", "canaries": plant.canaries},
        {"type": "pii"},
        {"type": "markdown_image", "allowed_hosts": list(allowed_hosts)},
    ]
    if secrets is not None:
        specs.append({"type": "secrets", **secrets.to_dict()})
    return specs


def _attack(
    probe: Probe,
    mutation: str | None,
    caps: Capabilities,
    plant: Plant,
    globals_: list[dict[str, Any]],
    rng: random.Random,
    paraphraser: Paraphraser | None,
    allowed_hosts: tuple[str, ...],
) -> Attack:
    attack_id = probe.id if mutation is None else f"{probe.id}~{mutation}"
    marker = plant.marker(attack_id)
    turns = [plant.fill(t, marker) for t in probe.turns]
    if probe.encoding is not None or probe.wrapper is not None:
        turns = [encoded_turn(probe, t) for t in turns]
    if mutation is not None:
        turns[-1] = _mutated(turns[-1], mutation, rng, paraphraser, [marker, plant.url])
    documents, route = _documents(probe, caps, plant, marker)
    specs = [*globals_]
    for kind in probe.detectors:
        spec = _detector(kind, probe, marker, documents, caps, plant, allowed_hosts)
        if spec is not None and spec["type"] not in {s["type"] for s in specs}:
            specs.append(spec)
    variants = tuple((person, plant.fill(turns[0], marker, person)) for person in probe.variants)
    return Attack(
        id=attack_id,
        probe=probe.id,
        category=probe.category,
        owasp=probe.owasp,
        technique=probe.technique,
        turns=tuple(turns),
        detectors=tuple(specs),
        documents=documents,
        route=route,
        mutation=mutation,
        variants=variants,
        refuse=CATEGORIES[probe.category].refuse,
    )


#: Probes whose own question is the point: indirect ones retrieve the planted document,
#: hallucination bait is on topic by design, counterfactual sets compare one request.
_UNANCHORED = frozenset({"indirect_injection", "misinformation", "bias"})


def _anchored(attack: Attack, anchor: str) -> Attack:
    if attack.category in _UNANCHORED:
        return attack
    turns = (*attack.turns[:-1], f"{anchor.strip()} {attack.turns[-1]}")
    return dataclasses.replace(attack, turns=turns)


def _mutated(
    text: str, mutation: str, rng: random.Random, paraphraser: Paraphraser | None, keep: list[str]
) -> str:
    if paraphraser is not None:
        reworded = paraphrase(text, paraphraser, [k for k in keep if k in text])
        if reworded is not None:
            return reworded
    return mutate(text, mutation, rng)


def _documents(
    probe: Probe, caps: Capabilities, plant: Plant, marker: str
) -> tuple[tuple[Document, ...], str]:
    docs = []
    for doc in probe.documents:
        if doc.access == "system" and not caps.system_context:
            continue  # the target's own system prompt is known: nothing to plant
        docs.append(Document(doc.access, plant.fill(doc.text, marker), doc.path))
    if not docs:
        return (), "main"
    needs_collection = any(d.access in ("reader", "restricted") for d in docs)
    if needs_collection and caps.collection:
        return tuple(d for d in docs if d.access != "system"), "collection"
    return tuple(docs), "context"


def _detector(
    kind: str,
    probe: Probe,
    marker: str,
    documents: tuple[Document, ...],
    caps: Capabilities,
    plant: Plant,
    allowed_hosts: tuple[str, ...],
) -> dict[str, Any] | None:
    if kind == "marker":
        return {"type": "marker", "marker": marker}
    if kind == "system_prompt":
        fragments = [d.text for d in documents if d.access == "system"] + list(caps.fragments)
        return {"type": "system_prompt", "fragments": fragments}
    if kind == "hallucination":
        return {"type": "hallucination", "terms": list(probe.terms)}
    if kind == "compliance":
        return {"type": "compliance", "evidence": probe.evidence}
    if kind == "toxicity":
        return {"type": "toxicity"}
    if kind in ("canary", "pii", "markdown_image", "bias"):
        return None  # global detectors (and bias, compared across variants by the runner)
    raise InvalidInput(f"Probe {probe.id} names an unknown detector {kind!r}.")
