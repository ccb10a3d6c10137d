"""The audit pack on disk: ``pack.json``, ``pack.html`` and ``SHA256SUMS``, whose own SHA-256
is the bundle's digest (print it, sign it, file it: any change to either file changes it).

    >>> written = write_pack(pack, "out/")
    >>> written["digest"]  # sha256 of SHA256SUMS
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path
from typing import Any

__all__ = ["render_pack_html", "verify_pack", "write_pack"]


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "<p><em>none recorded</em></p>"
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _gates(evaluations: list[dict[str, Any]]) -> str:
    if not evaluations:
        return "<p><em>no gate evaluated</em></p>"
    parts = []
    for e in evaluations:
        verdict = "passed" if e["passed"] else "did not pass"
        rows = [{**r, "evidence": ", ".join(r["evidence"])} for r in e["results"]]
        parts.append(
            f"<h3>{_e(e['gate'])} {verdict} ({_e(e['at'])}, {_e(e['actor'])})</h3>"
            + _table(rows, ["criterion", "status", "message", "evidence"])
        )
    return "".join(parts)


def render_pack_html(pack: dict[str, Any]) -> str:
    subject = pack["subject"]
    nodes = pack["lineage"].get("nodes", [])
    edges = pack["lineage"].get("edges", [])
    sections = [
        ("Lineage", _table(nodes, ["ref", "label"]) + _table(edges, ["src", "type", "dst"])),
        (
            "Data versions",
            _table(pack["data"], ["version", "rows", "status", "sensitivity", "quality", "pii"]),
        ),
        ("Approvals", _table(pack["approvals"], ["approver", "at", "comment"])),
        ("Release gates", _gates(pack["gates"])),
        ("Evaluations", _table(pack["evaluations"], ["id", "suite", "status", "aggregates"])),
        ("Red teaming", _table(pack["redteam"], ["id", "target_label", "asr", "started_at"])),
        ("Model card", f"<pre>{_e(pack['model_card'] or 'not a model')}</pre>"),
        ("Audit entries", _table(pack["audit"], ["seq", "at", "actor", "action", "object"])),
    ]
    body = "".join(f"<h2>{title}</h2>{content}" for title, content in sections)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Audit pack: {_e(subject['label'])}</title>"
        "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
        "td,th{border:1px solid #ccc;padding:.2em .5em;vertical-align:top}"
        "table{border-collapse:collapse;margin:.5em 0}</style></head><body>"
        f"<h1>Audit pack: {_e(subject['label'])}</h1>"
        f"<p>{_e(subject['ref'])}, by {_e(subject['author'])}; generated "
        f"{_e(pack['generated_at'])} by {_e(pack['generated_by'])}.</p>{body}</body></html>\n"
    )


def write_pack(pack: dict[str, Any], folder: str | Path) -> dict[str, Any]:
    """Write the bundle; return its files and the digest of ``SHA256SUMS``."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "pack.json": json.dumps(pack, indent=2, sort_keys=True, default=str).encode() + b"\n",
        "pack.html": render_pack_html(pack).encode(),
    }
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in files.items())
    for name, data in files.items():
        (out / name).write_bytes(data)
    (out / "SHA256SUMS").write_text(sums)
    return {
        "folder": str(out),
        "files": [*files, "SHA256SUMS"],
        "digest": hashlib.sha256(sums.encode()).hexdigest(),
    }


def verify_pack(folder: str | Path) -> bool:
    """Whether every file still hashes to what ``SHA256SUMS`` says."""
    out = Path(folder)
    for line in (out / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        if hashlib.sha256((out / name).read_bytes()).hexdigest() != digest:
            return False
    return True
