"""Parsers on real files written here: txt, md, html, a real PDF (fpdf2), a real .docx
(python-docx), and the files that must be refused with a reason."""

from __future__ import annotations

import io

import pytest

from passline.errors import InvalidInput
from passline.rag import parse_document, register_parser
from passline.rag.parsers import PARSERS, ParsedDocument


def pdf_bytes(*pages: str, title: str = "") -> bytes:
    fpdf = pytest.importorskip("fpdf")
    pdf = fpdf.FPDF()
    if title:
        pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def docx_bytes() -> bytes:
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_heading("Expense policy", level=0)  # level 0 is the Title style
    document.add_paragraph("Trains are reimbursed in second class.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Item", "Limit"
    table.cell(1, 0).text, table.cell(1, 1).text = "Hotel", "140 EUR"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_text_and_markdown() -> None:
    txt = parse_document(b"Leave policy\r\n\r\n\r\n\r\nEmployees get 25 days.  \n", "a.txt")
    assert txt == ParsedDocument("Leave policy\n\nEmployees get 25 days.", "Leave policy", "txt")
    md = parse_document(b"intro line\n\n# Remote work\n\nThree days a week.", "r.md")
    assert md.title == "Remote work" and md.kind == "md"
    assert parse_document("Caf\xe9 menu".encode("cp1252"), "m.txt").text == "Café menu"


def test_html_drops_scripts_styles_and_head() -> None:
    page = b"""<html><head><title>Travel &amp; expenses</title><style>p{color:red}</style>
    <script>var salary = 185000;</script></head><body><nav>Home</nav>
    <h1>Travel</h1><p>Book trains<br>in second class.</p><script>track()</script>
    <ul><li>Hotels: 140&nbsp;EUR</li><li>Taxis: no</li></ul></body></html>"""
    parsed = parse_document(page, "travel.html")
    assert parsed.title == "Travel & expenses"
    assert "185000" not in parsed.text and "track()" not in parsed.text
    assert "color" not in parsed.text
    assert (
        parsed.text
        == "Home\n\nTravel\n\nBook trains\nin second class.\n\nHotels: 140 EUR\nTaxis: no"
    )


def test_a_real_pdf() -> None:
    data = pdf_bytes("Salary bands 2026.", "The CTO earns 185,000 EUR a year.", title="Salaries")
    parsed = parse_document(data, "bands.pdf")
    assert parsed.title == "Salaries" and parsed.kind == "pdf"
    assert parsed.text == "Salary bands 2026.\n\nThe CTO earns 185,000 EUR a year."


def test_a_real_docx() -> None:
    parsed = parse_document(docx_bytes(), "expenses.docx")
    assert parsed.title == "Expense policy"
    assert "Trains are reimbursed in second class." in parsed.text
    assert "Hotel | 140 EUR" in parsed.text


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage", "is not a readable PDF"),
        ("fake.pdf", b"this is plain text pretending", "is not a readable PDF"),
        ("broken.docx", b"PK\x03\x04 not really a zip", "is not a readable .docx file"),
        ("empty.md", b"  \n\n ", "empty.md is empty"),
        ("blank.html", b"<html><script>x()</script></html>", "blank.html has no text"),
        ("binary.txt", b"abc\x00\x01\x02", "is not a text file"),
        ("image.png", b"\x89PNG....", "cannot index .png"),
    ],
)
def test_unreadable_files_are_refused_with_the_reason(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason) as caught:
        parse_document(data, name)
    assert name in caught.value.message


def test_a_truncated_pdf_is_refused() -> None:
    data = pdf_bytes("The CTO earns 185,000 EUR a year.")
    with pytest.raises(InvalidInput, match="cut.pdf is not a readable PDF"):
        parse_document(data[: len(data) // 3], "cut.pdf")


def test_an_encrypted_pdf_is_refused() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes("Secret figures."))))
    writer.encrypt(user_password="s3cret", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(InvalidInput, match="locked.pdf is an encrypted PDF"):
        parse_document(out.getvalue(), "locked.pdf")


def test_a_pdf_without_text_says_so() -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(InvalidInput, match=r"scan.pdf has no text to index \(a scanned PDF"):
        parse_document(out.getvalue(), "scan.pdf")


def test_parsers_are_registered_the_way_a_plugin_would_be() -> None:
    def rst(data: bytes, name: str) -> ParsedDocument:
        return ParsedDocument(data.decode(), "", "rst")

    try:
        register_parser(rst, ".rst")
        assert parse_document(b"Title\n=====\n\nBody.", "a.rst").title == "Title"
    finally:
        PARSERS.pop(".rst")
    assert {".txt", ".md", ".pdf", ".docx", ".html", ".htm"} <= set(PARSERS)
