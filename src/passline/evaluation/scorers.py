"""Scorers: one required method, ``score(sample) -> Score``, and a registry by type id.

A scorer is configured by a spec, ``{"type": "numeric", "tolerance": 0.5}`` (plus an optional
``name`` and a pass ``threshold``), stored as given with every suite version and run, so a
result can be reproduced. Its parameters are checked when the suite is saved, not when it
runs: an unknown parameter or an out-of-range value names the scorer, the parameter, what
is allowed and what was received.

Built-in scorers are registered with :func:`register_scorer`, the same function that adds a
custom one in-process; installed packages add theirs through the ``passline.scorers``
entry-point group (the entry point's name is the scorer's type; its object is a function
``fn(sample) -> float | bool | Score`` or a :class:`Scorer` subclass)::

    def mentions_policy(sample):
        return "policy" in sample.answer.lower()

    ws.evaluation.register_scorer("mentions_policy", mentions_policy)

A scorer that raises does not stop a run: that case's score is left unscored with the
error as its reason.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from passline.errors import InvalidInput, NotFound, PasslineError
from passline.evaluation.cases import Case, case_label
from passline.evaluation.text import figures, is_refusal

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "ENTRY_POINT_GROUP",
    "Sample",
    "Score",
    "Scorer",
    "ScoringEnv",
    "build_scorer",
    "build_scorers",
    "check_scorer",
    "fitting",
    "register_scorer",
    "scorer_types",
]

ENTRY_POINT_GROUP = "passline.scorers"
_REGISTRY: dict[str, type[Scorer] | Callable[..., Any]] = {}
_LOCK = threading.Lock()
_LOAD_LOCK = threading.Lock()
_LOADED_ENTRY_POINTS = False
_BROKEN: dict[str, str] = {}


@dataclass
class Score:
    """A scorer's verdict on one case: a value in [0, 1], or ``None`` when the case could not
    be scored (``reason`` says why)."""

    value: float | None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    cost_usd: float = 0.0
    passed: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "passed": self.passed, "reason": self.reason}
        if self.details:
            out["details"] = self.details
        if self.cost_usd:
            out["cost_usd"] = self.cost_usd
        return out


class ScoringEnv:
    """What scorers may call besides the sample: local embeddings (memoised per run) and
    a judge model (``judge(messages, model, params, schema) -> (text, cost_usd, tokens)``)."""

    def __init__(
        self,
        embed: Callable[[list[str]], np.ndarray] | None = None,
        judge: Callable[..., tuple[str, float, int]] | None = None,
    ) -> None:
        self._embed = embed
        self._judge = judge
        self._vectors: dict[str, Any] = {}
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        """Normalised vectors of ``texts``, each text embedded once per run."""
        import numpy as np

        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            vectors = (self._embed or _local_embed)(missing)
            with self._lock:
                self._vectors.update(zip(missing, vectors, strict=True))
        with self._lock:
            rows = [self._vectors[t] for t in texts]
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)

    def judge(
        self,
        messages: list[dict[str, str]],
        model: str | None,
        params: dict[str, Any],
        schema: dict[str, Any] | None,
    ) -> tuple[str, float, int]:
        if self._judge is None:
            raise InvalidInput("This run has no judge model: the llm_judge scorer cannot run.")
        return self._judge(messages, model, params, schema)


def _local_embed(texts: list[str]) -> np.ndarray:
    from passline.llm.embeddings import embedder

    return embedder().embed(texts)


@dataclass(frozen=True)
class Sample:
    """What a scorer sees: the case, the target's answer and the context it retrieved (the
    case's own context documents when the target retrieved nothing)."""

    case: Case
    answer: str
    context: tuple[str, ...] = ()
    env: ScoringEnv = field(default_factory=ScoringEnv, compare=False, repr=False)

    @property
    def expected(self) -> Any:
        return self.case.expected

    @property
    def question(self) -> str:
        return self.case.asked


class Scorer(ABC):
    """Score one answer. Subclasses set ``type`` (the id in suite files), ``needs`` (case
    fields a case must have), take their parameters as keyword arguments of ``__init__``
    (stored as given) and implement :meth:`score`.

    Example::

        class Shorter(Scorer):
            type = "shorter"

            def __init__(self, max_words: int = 50, **common: Any) -> None:
                super().__init__(**common)
                self.max_words = max_words

            def score(self, sample: Sample) -> Score:
                return Score(float(len(sample.answer.split()) <= self.max_words))
    """

    type: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str | None = None, threshold: float | None = None) -> None:
        self.name = name or self.type
        self.threshold = threshold

    @abstractmethod
    def score(self, sample: Sample) -> Score:
        """The score of ``sample`` (value in [0, 1], or None with a reason)."""

    def check_case(self, case: Case) -> str | None:
        """The case field this scorer needs and the case lacks, if any."""
        for name in self.needs:
            value = getattr(case, name)
            if value is None or value == [] or value == "":
                return name
        return None

    def params(self) -> dict[str, Any]:
        """The parameters as given (what :func:`build_scorer` would take back)."""
        accepted = inspect.signature(type(self).__init__).parameters
        skip = ("self", "common", "name", "threshold")
        return {k: getattr(self, k) for k in accepted if k not in skip and hasattr(self, k)}

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, **self.params()}
        if self.name != self.type:
            out["name"] = self.name
        if self.threshold is not None:
            out["threshold"] = self.threshold
        return out

    def run(self, sample: Sample) -> Score:
        """:meth:`score` with the pass mark applied; an exception becomes an unscored case."""
        try:
            result = self.score(sample)
        except PasslineError as exc:
            return Score(None, f"{self.name}: {exc.message}")
        except Exception as exc:  # noqa: BLE001 - a scorer's bug must not stop the run
            return Score(None, f"scorer {self.name!r} raised {type(exc).__name__}: {exc}")
        if result.value is not None:
            if not math.isfinite(result.value):
                return Score(None, f"scorer {self.name!r} returned {result.value}")
            result.value = min(1.0, max(0.0, float(result.value)))
            threshold = 0.5 if self.threshold is None else self.threshold
            result.passed = result.value >= threshold
        return result


# -- the registry --------------------------------------------------------------------------


def register_scorer(name: str, scorer: type[Scorer] | Callable[..., Any]) -> None:
    """Make ``name`` usable in suites: a :class:`Scorer` subclass, or a function
    ``fn(sample) -> float | bool | Score | (value, reason)``."""
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name):
        raise InvalidInput(
            "A scorer name is a lowercase identifier such as 'mentions_policy'. "
            f"Got {name!r} instead."
        )
    if not (inspect.isclass(scorer) and issubclass(scorer, Scorer)) and not callable(scorer):
        raise InvalidInput(f"Scorer {name!r} must be a Scorer subclass or a function.")
    with _LOCK:
        _REGISTRY[name] = scorer


def _load_entry_points() -> None:
    """Scorers of installed packages (group ``passline.scorers``), loaded once. A plugin
    that fails to load is remembered with its error, reported when a suite names it."""
    global _LOADED_ENTRY_POINTS
    if _LOADED_ENTRY_POINTS:
        return
    from importlib.metadata import entry_points

    # The built-ins that need NumPy or a model register themselves on import.
    import passline.evaluation.judge  # noqa: F401
    import passline.evaluation.semantic  # noqa: F401

    with _LOAD_LOCK:
        if _LOADED_ENTRY_POINTS:
            return
        for point in entry_points(group=ENTRY_POINT_GROUP):
            _load_one(point)
        _LOADED_ENTRY_POINTS = True


def _load_one(point: Any) -> None:
    try:
        register_scorer(point.name, point.load())
    except Exception as exc:  # noqa: BLE001 - name the plugin that failed, later
        _BROKEN[point.name] = (
            f"The scorer plugin {point.name!r} ({point.value}, entry-point group "
            f"{ENTRY_POINT_GROUP}) failed to load: {type(exc).__name__}: {exc}"
        )


def scorer_types() -> dict[str, str]:
    """Every registered scorer type, with the first line of its documentation."""
    _load_entry_points()
    with _LOCK:
        items = sorted(_REGISTRY.items())
    return {name: (inspect.getdoc(obj) or "").split("\n")[0] for name, obj in items}


def build_scorer(spec: dict[str, Any] | str) -> Scorer:
    """A scorer from its spec, its parameters checked."""
    _load_entry_points()
    spec = {"type": spec} if isinstance(spec, str) else dict(spec)
    kind = spec.pop("type", None)
    with _LOCK:
        factory = _REGISTRY.get(kind) if isinstance(kind, str) else None
    if factory is None and kind in _BROKEN:
        raise PasslineError(_BROKEN[kind], hint="Fix or uninstall the package that provides it.")
    if factory is None:
        known = ", ".join(sorted(_REGISTRY))
        raise NotFound(
            f"Unknown scorer type {kind!r}.",
            hint=f"The scorers are: {known}. Custom ones are registered with "
            f"register_scorer() or the '{ENTRY_POINT_GROUP}' entry-point group.",
        )
    if not (inspect.isclass(factory) and issubclass(factory, Scorer)):
        return FunctionScorer(factory, kind, **spec)
    accepted = [p for p in inspect.signature(factory.__init__).parameters if p != "self"]
    accepted = [p for p in accepted if p != "common"] + ["name", "threshold"]
    for key in spec:
        if key not in accepted:
            raise InvalidInput(
                f"Scorer {kind!r} has no parameter {key!r}; it takes "
                f"{', '.join(dict.fromkeys(accepted))}."
            )
    threshold = spec.get("threshold")
    _check_number(kind, "threshold", threshold, 0.0, 1.0, allow_none=True)
    try:
        return factory(**spec)
    except TypeError as exc:
        raise InvalidInput(f"Scorer {kind!r}: {exc}.") from None


def build_scorers(specs: list[dict[str, Any]], cases: list[Case]) -> list[Scorer]:
    """The suite's scorers, with names unique, and every case checked against those that
    apply to it (a case naming its ``scorers`` gets those only)."""
    scorers = [build_scorer(s) for s in specs]
    names = [s.name for s in scorers]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise InvalidInput(
            f"Two scorers are named {duplicate!r}; give one a 'name' to tell them apart."
        )
    for position, case in enumerate(cases, 1):
        label = case_label({"id": case.id}, position)
        for name in case.scorers or []:
            if name not in names:
                raise InvalidInput(
                    f"{label}: field 'scorers' names {name!r}, which is not one of the "
                    f"suite's scorers ({', '.join(names) or 'none'})."
                )
        for scorer in applicable(scorers, case):
            try:
                missing = scorer.check_case(case)
            except InvalidInput as exc:
                raise InvalidInput(f"{label}: {exc.message}", hint=exc.hint) from None
            if missing:
                raise InvalidInput(
                    f"{label}: scorer {scorer.name!r} needs field {missing!r}, which is missing.",
                    hint=f"Add '{missing}' to the case, or list under the case's 'scorers' "
                    "the scorers that apply to it.",
                )
    return scorers


def fitting(specs: list[dict[str, Any]], case: Case) -> list[str] | None:
    """The names of the scorers of ``specs`` that can score ``case`` (None when all can):
    what a case made from a finding lists, so it joins a suite without ``expected``."""
    names = []
    for scorer in (build_scorer(s) for s in specs):
        try:
            if scorer.check_case(case) is None:
                names.append(scorer.name)
        except InvalidInput:
            continue
    return None if len(names) == len(specs) else names


def applicable(scorers: list[Scorer], case: Case) -> list[Scorer]:
    if case.scorers is None:
        return scorers
    return [s for s in scorers if s.name in case.scorers]


def _check_number(
    scorer: str,
    param: str,
    value: Any,
    low: float,
    high: float,
    allow_none: bool = False,
) -> None:
    if value is None and allow_none:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise InvalidInput(
            f"The {param!r} parameter of scorer {scorer!r} must be a number in "
            f"[{low:g}, {high:g}]. Got {value!r} instead."
        )


def check_scorer(spec: dict[str, Any] | str, samples: list[Sample]) -> list[Score]:
    """The contract a scorer must keep (run it in a custom scorer's tests): its spec
    rebuilds the same scorer, and on every sample it can score (see ``check_case``) it
    returns a value in [0, 1], or None with a reason. Raises AssertionError naming the
    broken rule; returns the scores."""
    scorer = build_scorer(spec)
    rebuilt = build_scorer(scorer.spec())
    assert rebuilt.spec() == scorer.spec(), f"spec does not round-trip: {scorer.spec()}"
    scores = []
    for sample in samples:
        try:
            if scorer.check_case(sample.case) is not None:
                continue  # a suite would refuse this case for this scorer
        except InvalidInput:
            continue
        result = scorer.score(sample)
        assert isinstance(result, Score), f"{scorer.name} returned {type(result).__name__}"
        if result.value is None:
            assert result.reason, f"{scorer.name} left case {sample.case.id!r} unscored silently"
        else:
            assert 0.0 <= result.value <= 1.0, f"{scorer.name} scored {result.value}"
        scores.append(result)
    return scores


# -- custom functions -------------------------------------------------------------------------


class FunctionScorer(Scorer):
    """A registered function; its extra parameters are passed as keyword arguments."""

    def __init__(
        self,
        fn: Callable[..., Any],
        kind: str,
        name: str | None = None,
        threshold: float | None = None,
        **options: Any,
    ) -> None:
        self.type = kind  # type: ignore[misc]
        super().__init__(name, threshold)
        self.fn = fn
        self.options = options

    def params(self) -> dict[str, Any]:
        return dict(self.options)

    def score(self, sample: Sample) -> Score:
        result = self.fn(sample, **self.options)
        if isinstance(result, Score):
            return result
        if isinstance(result, tuple) and len(result) == 2:
            return Score(_as_value(self.name, result[0]), str(result[1]))
        return Score(_as_value(self.name, result))


def _as_value(name: str, value: Any) -> float | None:
    if value is None or isinstance(value, bool | int | float):
        return None if value is None else float(value)
    raise InvalidInput(
        f"Scorer {name!r} returned {type(value).__name__}; return a number in [0, 1], a bool, "
        "a Score or (value, reason)."
    )


# -- the built-ins without a model --------------------------------------------------------------


def _expected_texts(expected: Any) -> list[str]:
    if isinstance(expected, list):
        return [str(e) for e in expected]
    return [str(expected)]


def _normalise(text: str, case_sensitive: bool) -> str:
    text = " ".join(str(text).split()).strip(" .!")
    return text if case_sensitive else text.casefold()


class Exact(Scorer):
    """1 when the answer equals ``expected`` (whitespace and final punctuation ignored;
    case-insensitive unless ``case_sensitive``); a list of expected answers accepts any."""

    type = "exact"
    needs = ("expected",)

    def __init__(self, case_sensitive: bool = False, **common: Any) -> None:
        super().__init__(**common)
        self.case_sensitive = case_sensitive

    def score(self, sample: Sample) -> Score:
        answer = _normalise(sample.answer, self.case_sensitive)
        hit = any(
            answer == _normalise(e, self.case_sensitive) for e in _expected_texts(sample.expected)
        )
        return Score(float(hit), "equal" if hit else "differs from expected")


class Contains(Scorer):
    """The share of ``expected`` texts (one, or a list) found in the answer, ignoring case;
    figures match whatever their thousands separators (25,000 = 25000)."""

    type = "contains"
    needs = ("expected",)

    def __init__(self, case_sensitive: bool = False, **common: Any) -> None:
        super().__init__(**common)
        self.case_sensitive = case_sensitive

    def score(self, sample: Sample) -> Score:
        answer = _normalise(sample.answer, self.case_sensitive)
        wanted = _expected_texts(sample.expected)
        found = [e for e in wanted if _found(e, answer, sample.answer, self.case_sensitive)]
        missing = [e for e in wanted if e not in found]
        reason = "all found" if not missing else f"missing: {', '.join(missing)[:200]}"
        return Score(len(found) / len(wanted), reason, {"missing": missing} if missing else {})


def _found(expected: str, answer: str, raw: str, case_sensitive: bool) -> bool:
    """As a phrase, not inside a longer word or number ("5 days" is not in "25 days")."""
    phrase = re.escape(_normalise(expected, case_sensitive))
    if re.search(rf"(?<!\w){phrase}(?!\w)", answer):
        return True
    wanted = figures(expected)
    words = re.sub(r"[\d.,\s]+", " ", expected).strip()
    return (
        bool(wanted)
        and wanted <= figures(raw)
        and (not words or _normalise(words, case_sensitive) in answer)
    )


class Regex(Scorer):
    """1 when the answer matches ``pattern`` (``re.search``; the case's ``expected`` is the
    pattern when none is given); ``ignore_case`` by default."""

    type = "regex"

    def __init__(self, pattern: str | None = None, ignore_case: bool = True, **common: Any) -> None:
        super().__init__(**common)
        self.pattern = pattern
        self.ignore_case = ignore_case
        if pattern is not None:
            self._compile(pattern)

    def _compile(self, pattern: Any) -> re.Pattern[str]:
        try:
            return re.compile(str(pattern), re.IGNORECASE if self.ignore_case else 0)
        except re.error as exc:
            raise InvalidInput(
                f"The 'pattern' of scorer {self.name!r} is not a valid regular expression: "
                f"{exc}. Got {pattern!r}."
            ) from None

    def check_case(self, case: Case) -> str | None:
        if self.pattern is not None:
            return None
        if case.expected is None:
            return "expected"
        self._compile(case.expected)
        return None

    def score(self, sample: Sample) -> Score:
        pattern = self._compile(self.pattern if self.pattern is not None else sample.expected)
        match = pattern.search(sample.answer)
        return Score(float(bool(match)), f"matched {match.group()[:80]!r}" if match else "no match")


class JsonSchema(Scorer):
    """1 when the answer is JSON (a fenced ```json block is accepted) valid against
    ``schema``; 0 with the first error otherwise."""

    type = "json_schema"

    def __init__(self, schema: dict[str, Any] | None = None, **common: Any) -> None:
        super().__init__(**common)
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        if not isinstance(schema, dict):
            raise InvalidInput(
                f"Scorer {self.name!r} needs 'schema', a JSON Schema object. Got {schema!r}."
            )
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise InvalidInput(
                f"The 'schema' of scorer {self.name!r} is not a valid JSON Schema: {exc.message}."
            ) from None
        self.schema = schema
        self._validator = Draft202012Validator(schema)

    def score(self, sample: Sample) -> Score:
        text = sample.answer.strip()
        fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
        if fenced:
            text = fenced.group(1).strip()
        try:
            value = json.loads(text)
        except ValueError as exc:
            return Score(0.0, f"not JSON: {exc}")
        error = next(iter(self._validator.iter_errors(value)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "the root"
            return Score(0.0, f"at {where}: {error.message}"[:300])
        return Score(1.0, "valid")


_NUMBER = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?")


def _numbers(text: str) -> list[float]:
    out = []
    for match in _NUMBER.finditer(text):
        try:
            out.append(float(match.group().replace(",", "")))
        except ValueError:
            continue
    return out


class Numeric(Scorer):
    """1 when a number in the answer is within ``tolerance`` (absolute) or ``relative``
    (a fraction of the expected value) of ``expected``."""

    type = "numeric"
    needs = ("expected",)

    def __init__(self, tolerance: float = 0.0, relative: float = 0.0, **common: Any) -> None:
        super().__init__(**common)
        _check_number("numeric", "tolerance", tolerance, 0.0, math.inf)
        _check_number("numeric", "relative", relative, 0.0, 1.0)
        self.tolerance = tolerance
        self.relative = relative

    def check_case(self, case: Case) -> str | None:
        missing = super().check_case(case)
        if missing is None and _expected_number(case.expected) is None:
            raise InvalidInput(
                f"scorer {self.name!r} needs field 'expected' to be a number. "
                f"Got {case.expected!r}."
            )
        return missing

    def score(self, sample: Sample) -> Score:
        expected = _expected_number(sample.expected)
        if expected is None:  # refused when a suite is saved; here for direct callers
            return Score(None, f"expected {sample.expected!r} is not a number")
        allowed = max(self.tolerance, abs(expected) * self.relative)
        found = _numbers(sample.answer)
        if not found:
            return Score(0.0, "no number in the answer")
        best = min(found, key=lambda v: abs(v - expected))
        hit = abs(best - expected) <= allowed
        return Score(
            float(hit),
            f"{best:g} vs {expected:g} (within {allowed:g})"
            if hit
            else f"closest {best:g}, expected {expected:g} +/- {allowed:g}",
        )


def _expected_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        found = _numbers(value)
        return found[0] if len(found) == 1 else None
    return None


class Refusal(Scorer):
    """1 when the answer refuses ("I don't know") exactly when the case says it should
    (``refuse: true``), and answers when it should not."""

    type = "refusal"

    def score(self, sample: Sample) -> Score:
        refused = is_refusal(sample.answer)
        right = refused == sample.case.refuse
        what = "refused" if refused else "answered"
        return Score(float(right), f"{what} ({'right' if right else 'wrong'} for this case)")


for _builtin in (Exact, Contains, Regex, JsonSchema, Numeric, Refusal):
    register_scorer(_builtin.type, _builtin)
