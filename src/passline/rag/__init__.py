"""Permission-aware retrieval, without a database: documents to text (``parsers``), text to
chunks with offsets (``chunker``), ACL rules and checks (``acl``), and the per-collection
vector index that filters by the reader's rights before it ranks (``index``).

``passline.services.rag`` puts collections, documents, users and traces around these.
"""

from passline.rag.acl import AclRules, Reader, check_acl, parse_acl
from passline.rag.chunker import Chunk, chunk_text
from passline.rag.parsers import PARSERS, ParsedDocument, parse_document, register_parser

__all__ = [
    "PARSERS",
    "AclRules",
    "Chunk",
    "ParsedDocument",
    "Reader",
    "check_acl",
    "chunk_text",
    "parse_acl",
    "parse_document",
    "register_parser",
]
