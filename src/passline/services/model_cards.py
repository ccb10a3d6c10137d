"""Model cards, generated from what the registry and the lineage graph hold, plus the
owner's intended-use fields. Markdown for reading and for export; HTML for the UI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment

from passline.core.entities import AliasMove, ModelVersion, RegisteredModel

__all__ = ["render_card"]

_TEMPLATE = Path(__file__).with_name("model_card.md.j2")

_HTML = """<article class="model-card">{{ body }}</article>"""


def render_card(
    model: RegisteredModel,
    version: ModelVersion,
    history: list[AliasMove],
    evaluation: dict[str, Any],
) -> dict[str, str]:
    env = Environment(autoescape=False, trim_blocks=False)
    markdown = env.from_string(_TEMPLATE.read_text()).render(
        model=model, version=version, history=history, evaluation=evaluation
    )
    return {"markdown": markdown, "html": _to_html(markdown)}


def _to_html(markdown: str) -> str:
    """The card's own small Markdown (headings, bullets, bold, code) as escaped HTML."""
    import html
    import re

    lines, out, in_list = markdown.splitlines(), [], False
    for line in lines:
        text = html.escape(line)
        text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
        text = re.sub(r"`(.+?)`", r"<code>\1</code>", text)
        if line.startswith("- "):
            out.append(("" if in_list else "<ul>") + f"<li>{text[2:]}</li>")
            in_list = True
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        if line.startswith("## "):
            out.append(f"<h2>{text[3:]}</h2>")
        elif line.startswith("# "):
            out.append(f"<h1>{text[2:]}</h1>")
        elif line.strip():
            out.append(f"<p>{text}</p>")
    if in_list:
        out.append("</ul>")
    return Environment(autoescape=False).from_string(_HTML).render(body="\n".join(out))
