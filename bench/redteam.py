"""Attack detection: precision and recall of Passline's prompt-injection and jailbreak
detection (``passline.guard.injection``) on a labelled set, beside an open detector.

The set is ``bench/data/injection-labelled.jsonl`` (made by ``bench/redteam_corpus.py``;
its docstring says how): 507 prompts, 279 attacks (instruction overrides, personas and DAN,
developer mode, prompt extraction, instructions hidden in documents, fake role markers,
refusal suppression, fictional framing, split payloads, eight languages, many-shot, and
attacks obfuscated in base64, ROT13, leetspeak, spacing, look-alike letters, typos and
zero-width characters) and 228 benign prompts, most of them look-alikes ("ignore the noise
in this data", "act as a translator", "how do I enable developer mode on Android"). Rows are
split into ``dev`` and ``test`` by seed, never by row.

Sides, each at its default operating point:

- **Passline, patterns**: ``injection_score(text) >= 0.5`` (the guard's default threshold);
- **Passline, patterns + embeddings** (full run only): the guard with ``embeddings: true``,
  which also fires at cosine similarity 0.8 to a known attack (all-MiniLM-L6-v2);
- **last_layer** 0.1.33 (PyPI ``last-layer``, MIT): a compiled classifier that ships inside
  its package, so it runs offline. It flags a prompt when any of its threat markers fires;
  its exploit classifier alone is reported too. It runs in its own virtual environment
  (``bench/.data/redteam-peer-venv``, created on first use).

Other open detectors were tried: LLM Guard's and pytector's injection scanners download
their models from a hub at run time, which fails here; Rebuff's heuristic runs offline but
took 3 to 7 s per prompt on two cores (a string-similarity scan against 8,800 generated
phrases), an hour for this set, so it is left out.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.table import Table

__all__ = ["DATA", "FULL", "QUICK", "RedteamParams", "load", "run", "run_benchmark", "score"]

BENCH_DIR = Path(__file__).parent
DATA = BENCH_DIR / "data" / "injection-labelled.jsonl"
PEER_CHILD = BENCH_DIR / "redteam_peer.py"
PEER_VENV = BENCH_DIR / ".data" / "redteam-peer-venv"
PEER_REQUIREMENTS = ["last-layer==0.1.33", "setuptools<81"]  # last_layer needs pkg_resources


@dataclass(frozen=True)
class RedteamParams:
    embeddings: bool  # also measure the guard with embedding similarity (loads a model)
    rounds: int  # timed passes (the best is kept)


FULL = RedteamParams(embeddings=True, rounds=3)
QUICK = RedteamParams(embeddings=False, rounds=1)


def load(path: Path = DATA) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


# --- the sides ------------------------------------------------------------------------------


def _timed(detect: Callable[[list[str]], list[bool]], texts: list[str], rounds: int) -> Any:
    best, flags = float("inf"), []
    for _ in range(rounds):
        started = time.perf_counter()
        flags = detect(texts)
        best = min(best, time.perf_counter() - started)
    return flags, best


def passline_patterns(texts: list[str]) -> list[bool]:
    from passline.guard.injection import injection_score

    return [injection_score(t)[0] >= 0.5 for t in texts]


def passline_embeddings(texts: list[str]) -> list[bool]:
    from passline.guard.base import GuardContext
    from passline.guard.injection import InjectionConfig, InjectionGuard

    guard = InjectionGuard(InjectionConfig(embeddings=True))
    context = GuardContext()
    return [guard.check(t, context).hit for t in texts]


def _peer_python() -> Path:
    return PEER_VENV / "bin" / "python"


def ensure_peer(console: Console) -> str | None:
    """The peer's environment, made once; the reason it is unavailable, or None."""
    python = _peer_python()
    if python.exists():
        probe = subprocess.run([str(python), "-c", "import last_layer"], capture_output=True)
        if probe.returncode == 0:
            return None
    console.log(f"redteam: creating {PEER_VENV} with {', '.join(PEER_REQUIREMENTS)} (once)")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *PEER_REQUIREMENTS],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        return f"could not install {PEER_REQUIREMENTS[0]}: {exc}"
    return None


def last_layer(texts: list[str], console: Console) -> dict[str, Any]:
    reason = ensure_peer(console)
    if reason:
        return {"unavailable": reason}
    with tempfile.TemporaryDirectory() as folder:
        source, out = Path(folder) / "in.json", Path(folder) / "out.json"
        source.write_text(json.dumps({"texts": texts}))
        done = subprocess.run(
            [str(_peer_python()), str(PEER_CHILD), str(source), str(out)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            return {"unavailable": f"last_layer failed: {done.stderr.strip()[-300:]}"}
        return json.loads(out.read_text())  # type: ignore[no-any-return]


# --- scoring --------------------------------------------------------------------------------


def _prf(rows: list[dict[str, str]], flags: list[bool]) -> dict[str, Any]:
    tp = sum(f and r["label"] == "attack" for r, f in zip(rows, flags, strict=True))
    fp = sum(f and r["label"] == "benign" for r, f in zip(rows, flags, strict=True))
    fn = sum(not f and r["label"] == "attack" for r, f in zip(rows, flags, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": len(rows) - tp - fp - fn,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
    }


def score(rows: list[dict[str, str]], flags: list[bool]) -> dict[str, Any]:
    """Overall and per split; per family the share flagged (recall for attack families,
    false-positive rate for benign ones)."""
    out: dict[str, Any] = {"overall": _prf(rows, flags)}
    for split in ("dev", "test"):
        picked = [(r, f) for r, f in zip(rows, flags, strict=True) if r["split"] == split]
        out[split] = _prf([r for r, _ in picked], [f for _, f in picked])
    families: dict[str, list[bool]] = {}
    labels: dict[str, str] = {}
    for row, flag in zip(rows, flags, strict=True):
        families.setdefault(row["family"], []).append(flag)
        labels[row["family"]] = row["label"]
    out["by_family"] = {
        name: {"label": labels[name], "n": len(v), "flagged": round(sum(v) / len(v), 4)}
        for name, v in sorted(families.items(), key=lambda kv: (labels[kv[0]], kv[0]))
    }
    return out


def run(params: RedteamParams, console: Console) -> dict[str, Any]:
    rows = load()
    texts = [r["text"] for r in rows]
    console.log(f"redteam: {len(rows)} labelled prompts")
    sides: dict[str, Any] = {}
    flags, seconds = _timed(passline_patterns, texts, params.rounds)
    sides["passline"] = {"scores": score(rows, flags), "seconds": seconds, "load_s": 0.0}
    if params.embeddings:
        started = time.perf_counter()
        passline_embeddings(texts[:1])
        load_s = time.perf_counter() - started
        flags, seconds = _timed(passline_embeddings, texts, 1)
        sides["passline+embeddings"] = {
            "scores": score(rows, flags),
            "seconds": seconds,
            "load_s": load_s,
        }
    peer = last_layer(texts, console)
    if "unavailable" in peer:
        sides["last_layer"] = {"unavailable": peer["unavailable"]}
    else:
        any_marker = [r["flagged"] for r in peer["results"]]
        exploit = ["ExploitClassifier" in r["markers"] for r in peer["results"]]
        sides["last_layer"] = {
            "version": peer["version"],
            "scores": score(rows, any_marker),
            "seconds": peer["seconds"],
            "load_s": peer["load_s"],
        }
        sides["last_layer (exploit only)"] = {
            "version": peer["version"],
            "scores": score(rows, exploit),
            "seconds": peer["seconds"],
            "load_s": peer["load_s"],
        }
    attacks = sum(r["label"] == "attack" for r in rows)
    return {
        "params": {"embeddings": params.embeddings, "rounds": params.rounds},
        "prompts": len(rows),
        "attacks": attacks,
        "benign": len(rows) - attacks,
        "sides": sides,
    }


def tables(result: dict[str, Any]) -> Group:
    overall = Table(
        title=f"Attack detection: {result['prompts']} prompts ({result['attacks']} attacks, "
        f"{result['benign']} benign look-alikes and questions)"
    )
    columns = ["detector", "P", "R", "F1", "test P", "test R", "prompts/s"]
    for name in columns:
        overall.add_column(name, justify="left" if name == "detector" else "right")
    for side, data in result["sides"].items():
        if "unavailable" in data:
            overall.add_row(side, "-", "-", "-", "-", "-", data["unavailable"][:40])
            continue
        o, t = data["scores"]["overall"], data["scores"]["test"]
        rate = result["prompts"] / data["seconds"] if data["seconds"] else 0.0
        overall.add_row(
            side,
            f"{o['precision']:.3f}",
            f"{o['recall']:.3f}",
            f"{o['f1']:.3f}",
            f"{t['precision']:.3f}",
            f"{t['recall']:.3f}",
            f"{rate:,.0f}",
        )
    families = Table(title="Share flagged per family (attacks: recall; benign: false alarms)")
    sides = [s for s, d in result["sides"].items() if "unavailable" not in d]
    for name in ["family", "label", "n", *sides]:
        families.add_column(
            name, justify="left" if name in ("family", "label") else "right", no_wrap=True
        )
    first = result["sides"]["passline"]["scores"]["by_family"]
    for family, info in first.items():
        families.add_row(
            family,
            info["label"],
            str(info["n"]),
            *(f"{result['sides'][s]['scores']['by_family'][family]['flagged']:.2f}" for s in sides),
        )
    return Group(overall, families)


def run_benchmark(quick: bool, console: Console) -> tuple[Group, dict[str, Any]]:
    """The ``python -m bench`` entry: tables and JSON payload of a full or quick run."""
    result = run(QUICK if quick else FULL, console)
    return tables(result), result


if __name__ == "__main__":  # pragma: no cover - ``python -m bench.redteam [--quick]``
    out = Console()
    group, _ = run_benchmark("--quick" in sys.argv, out)
    out.print(group)
