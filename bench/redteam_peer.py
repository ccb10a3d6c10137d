"""The open detector's side of bench/redteam.py, run in its own virtual environment:
``python redteam_peer.py IN OUT``.

Reads ``{"texts": [...]}``; writes, for last_layer (``last-layer`` on PyPI, MIT, a
compiled classifier shipped inside the package: it runs offline), each text's markers and
whether its exploit classifier fired, with the load time and the scan time.
"""

import json
import sys
import time
from importlib.metadata import version


def main(source, out):
    texts = json.loads(open(source).read())["texts"]
    started = time.perf_counter()
    from last_layer import scan_prompt

    scan_prompt("hello")  # warm: the first call loads the library's model
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    results = []
    for text in texts:
        risk = scan_prompt(text)
        results.append({"flagged": not risk.passed, "markers": sorted(risk.markers)})
    seconds = time.perf_counter() - started
    with open(out, "w") as handle:
        json.dump(
            {
                "version": version("last-layer"),
                "load_s": load_s,
                "seconds": seconds,
                "results": results,
            },
            handle,
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
