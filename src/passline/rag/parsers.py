"""Documents to plain text and a title: txt, md, pdf (pypdf), docx (python-docx), html.

Each parser takes the file's bytes and its name and returns a :class:`ParsedDocument`. A
file that cannot be read (corrupt, encrypted, empty, no text layer) raises
:class:`~passline.errors.InvalidInput` naming the file and the reason, so a directory
with one bad file fails before anything is stored. Parsers are found by file extension
in :data:`PARSERS`; :func:`register_parser` adds one the same way the built-ins are added.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePosixPath

from passline.errors import InvalidInput, MissingExtra

__all__ = ["PARSERS", "ParsedDocument", "Parser", "parse_document", "register_parser"]


@dataclass(frozen=True)
class ParsedDocument:
    text: str
    title: str
    kind: str  # txt | md | pdf | docx | html


Parser = Callable[[bytes, str], ParsedDocument]
PARSERS: dict[str, Parser] = {}


def register_parser(parser: Parser, *extensions: str) -> Parser:
    """Parse files ending in ``extensions`` (``".rst"``) with ``parser(data, name)``."""
    for extension in extensions:
        PARSERS[extension.lower()] = parser
    return parser


def parse_document(data: bytes, name: str) -> ParsedDocument:
    """The text and title of file ``name`` whose bytes are ``data``."""
    suffix = PurePosixPath(name).suffix.lower()
    parser = PARSERS.get(suffix)
    if parser is None:
        raise InvalidInput(
            f"{name}: cannot index {suffix or 'files without an extension'}; "
            f"supported: {', '.join(sorted(PARSERS))}.",
            hint="Convert it to one of those, or register a parser (passline.rag.register_parser).",
        )
    if not data.strip():
        raise InvalidInput(f"{name} is empty.")
    parsed = parser(data, name)
    text = _tidy(parsed.text)
    if not text:
        raise InvalidInput(f"{name} has no text to index{_no_text_hint(parsed.kind)}.")
    title = " ".join(parsed.title.split())[:200] or _first_line(text) or PurePosixPath(name).stem
    return ParsedDocument(text, title, parsed.kind)


def _no_text_hint(kind: str) -> str:
    return " (a scanned PDF? run OCR on it first)" if kind == "pdf" else ""


def _tidy(text: str) -> str:
    """Normalise line ends, drop trailing spaces and runs of blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:200]
    return ""


def _decode(data: bytes, name: str) -> str:
    if b"\x00" in data[:4096]:
        raise InvalidInput(f"{name} is not a text file (it contains NUL bytes).")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def parse_text(data: bytes, name: str) -> ParsedDocument:
    text = _decode(data, name)
    return ParsedDocument(text, _first_line(text), "txt")


def parse_markdown(data: bytes, name: str) -> ParsedDocument:
    text = _decode(data, name)
    heading = re.search(r"^#\s+(.+)$", text, flags=re.MULTILINE)
    return ParsedDocument(text, heading.group(1) if heading else _first_line(text), "md")


def parse_pdf(data: bytes, name: str) -> ParsedDocument:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ModuleNotFoundError:
        raise MissingExtra.for_extra("llm", "Reading PDF files") from None
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidInput(
                f"{name} is an encrypted PDF; Passline cannot read it without its password.",
                hint="Save an unencrypted copy and index that.",
            )
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or ""
    except InvalidInput:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise InvalidInput(f"{name} is not a readable PDF: {_reason(exc)}.") from None
    except Exception as exc:  # pypdf raises many things on damaged files
        if "crypt" in str(exc).lower():
            raise InvalidInput(f"{name} is an encrypted PDF that cannot be opened.") from None
        raise InvalidInput(f"{name} is not a readable PDF: {_reason(exc)}.") from None
    text = "\n\n".join(p.strip() for p in pages)
    return ParsedDocument(text, str(title), "pdf")


def parse_docx(data: bytes, name: str) -> ParsedDocument:
    try:
        import docx
        from docx.opc.exceptions import PackageNotFoundError
    except ModuleNotFoundError:
        raise MissingExtra.for_extra("llm", "Reading Word files") from None
    import zipfile

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InvalidInput(f"{name} is not a readable .docx file: {_reason(exc)}.") from None
    blocks = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            blocks.append(" | ".join(cell.text.strip() for cell in row.cells))
    headings = [
        p.text for p in document.paragraphs if p.style is not None and p.style.name == "Title"
    ]
    title = document.core_properties.title or (headings[0] if headings else "")
    return ParsedDocument("\n\n".join(b for b in blocks if b.strip()), title, "docx")


def parse_html(data: bytes, name: str) -> ParsedDocument:
    page = _HtmlText()
    page.feed(_decode(data, name))
    page.close()
    return ParsedDocument(page.text(), page.title or page.first_heading, "html")


def _reason(exc: Exception) -> str:
    return str(exc).strip().rstrip(".")[:200] or type(exc).__name__


_SKIP = {"script", "style", "noscript", "template", "svg", "head"}
_BLOCK = {
    "p", "div", "section", "article", "header", "footer", "main", "aside", "nav", "br", "hr",
    "li", "ul", "ol", "dl", "dt", "dd", "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
    "pre", "blockquote", "figure", "figcaption", "form", "address",
}  # fmt: skip


class _HtmlText(HTMLParser):
    """Visible text of a page: scripts, styles and the head dropped, blocks on new lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._skipping: list[str] = []
        self._in_title = self._in_h1 = False
        self.title = self.first_heading = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIP:
            self._skipping.append(tag)
        elif tag in _BLOCK:
            self._parts.append("\n\n" if tag not in ("br", "li", "tr") else "\n")
        self._in_h1 = self._in_h1 or tag == "h1"

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIP and tag in self._skipping:
            while self._skipping and self._skipping.pop() != tag:
                pass
        elif tag in _BLOCK and tag not in ("li", "tr", "dt", "dd"):  # items: one line each
            self._parts.append("\n\n" if tag.startswith("h") or tag == "p" else "\n")
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skipping:
            self._parts.append(data)
            if self._in_h1 and not self.first_heading:
                self.first_heading = data.strip()

    def text(self) -> str:
        raw = "".join(self._parts)
        lines = (" ".join(line.split()) for line in raw.split("\n"))
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


register_parser(parse_text, ".txt", ".text")
register_parser(parse_markdown, ".md", ".markdown")
register_parser(parse_pdf, ".pdf")
register_parser(parse_docx, ".docx")
register_parser(parse_html, ".html", ".htm")
