"""Deterministic drafting: requirement statements found by rules, no model.

A statement is a sentence such as "As a planner, I want ...", "We need ...", "The system
shall ...", "Store managers must be able to ..." or a line marked "Requirement:". Its
priority, estimate and acceptance criteria come from the statement and the sentences right
after it ("That's top priority. Dev says 5 points."), and only from there: whatever is not
said stays :data:`~passline.backlog.entities.TBD`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from passline.backlog.entities import FIBONACCI, TBD, StoryDraft
from passline.backlog.sources import Source

__all__ = [
    "Sentence",
    "draft_rules",
    "find_criteria",
    "find_points",
    "find_priority",
    "sentences",
    "split_speaker",
]

_SPEAKER = re.compile(
    r"^\s*(?:\[?[\d:.,]+\]?\s*[-–]?\s*)?([A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,2}):\s+(.*)$"
)
_NOT_SPEAKERS = {
    "decision",
    "action",
    "action item",
    "todo",
    "question",
    "note",
    "requirement",
    "agenda",
    "re",
    "subject",
    "date",
    "attendees",
    "summary",
    "notes",
    "next steps",
    "acceptance",
}
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)]|\[[ x]\])\s+", re.IGNORECASE)

_USER_STORY = re.compile(
    r"\bas an? ([^,]+?),? i (?:want|need|would like|'d like) (.+)", re.IGNORECASE
)
_MODAL = re.compile(
    r"^(?:(?:and|so|also|then|ok|okay|right|yeah|well|i think|basically|plus),? )*"
    r"((?:the |our |a |an |each |every |all )?[a-z][\w/-]*(?: [a-z][\w/-]*){0,4}?) "
    r"(?:really |also |definitely |absolutely |still |probably )?"
    r"(shall|must|should|needs? to|has to|have to|ought to|need|needs|want|wants|require|requires"
    r"|would like|'d like) (to )?(?:also |really |definitely |still )?(?:be able to )?(.+)",
    re.IGNORECASE,
)
_MARKED = re.compile(r"^(?:requirement|req-?\d*|feature request|must have)\s*[:\-]\s*(.+)", re.I)
_THERE = re.compile(r"^there (?:should|must|needs to|has to) be (.+)", re.IGNORECASE)
_BENEFIT = re.compile(r",? (?:so that|in order to|so we can|so they can|because) (.+)$", re.I)
_NEGATIVE = re.compile(
    r"\b(don't need|do not need|doesn't need|does not need|no need|not needed|won't need|"
    r"we don't|we won't|we do not|we will not|not going to|we shouldn't|we should not)\b",
    re.IGNORECASE,
)
_MEETING_TALK = re.compile(
    r"^(discuss|talk|meet|circle back|follow up|schedule|wrap|move on|check with|ask|sync|"
    r"revisit|think about|look into|take (this|that) offline|get (lunch|coffee)|go|start|"
    r"stop|finish|decide|figure|keep|remember|be careful|hurry|get going|leave)\b",
    re.IGNORECASE,
)
_PEOPLE = re.compile(
    r"(ers?|ists?|ysts?|ants?|ors?|team|teams|staff|users?|customers?|people|admins?|owners?"
    r"|leads?|folks|shoppers?|clients?|finance|ops|operations|hq|head office)$",
    re.IGNORECASE,
)
_WE = {"we", "i", "you", "they", "us", "everyone", "we all", "people", "somebody", "someone"}

_PRIORITY_WORDS = (
    ("Highest", r"highest priority|top priority|critical|blocker|urgent|asap|\bp0\b"),
    ("Lowest", r"lowest priority|someday|\bp4\b"),
    ("High", r"high priority|high-priority|important|\bp1\b"),
    ("Medium", r"medium priority|normal priority|\bp2\b"),
    ("Low", r"low priority|low-priority|nice to have|nice-to-have|\bp3\b"),
)
_POINTS = re.compile(
    r"\b(\d+(?:\.\d+)?)\s*(?:story\s*)?points?\b|\bestimat\w*\b[^.?!]*?\b(\d+(?:\.\d+)?)\b"
    r"(?!\s*(?:days?|weeks?|hours?|%|percent|stores?))",
    re.IGNORECASE,
)
_GWT = re.compile(r"\bgiven (.+?),? when (.+?),? then (.+)", re.IGNORECASE)
_DONE_WHEN = re.compile(
    r"\b(?:done when|accepted when|acceptance criteri(?:a|on)(?: is| are)?:?|success means"
    r"|it's done if|we'll know it works when|definition of done(?: is)?:?)\s+(.+)",
    re.IGNORECASE,
)
_CONTEXT_START = re.compile(
    r"^(that's|that is|this is|it's|it is|this one|that one|priority|estimate|dev|acceptance|"
    r"done when|success|agreed|yes|yeah|definitely|given|i'd say|i would say|call it|"
    r"let's call it|maybe|probably|fine|ok|okay|sure|and|also)\b",
    re.IGNORECASE,
)
_LABELS = (
    "forecast",
    "forecasting",
    "dashboard",
    "report",
    "reporting",
    "api",
    "data",
    "alert",
    "alerts",
    "security",
    "privacy",
    "model",
    "inventory",
    "mobile",
    "export",
    "integration",
    "monitoring",
    "performance",
    "login",
    "pricing",
    "promotion",
    "promotions",
    "search",
    "notification",
    "notifications",
    "audit",
    "billing",
    "payments",
    "ui",
)


@dataclass(frozen=True)
class Sentence:
    line: int
    speaker: str | None
    text: str
    position: int = 0  # the index of its line among the source's non-empty lines


def split_speaker(line: str) -> tuple[str | None, str]:
    """``("Priya", "We need ...")`` from ``"[00:01] Priya: We need ..."``."""
    match = _SPEAKER.match(line)
    if match and match.group(1).lower() not in _NOT_SPEAKERS:
        return match.group(1), match.group(2).strip()
    return None, line.strip()


def sentences(source: Source) -> list[Sentence]:
    out = []
    for position, (number, line) in enumerate(source.numbered()):
        speaker, text = split_speaker(_BULLET.sub("", line))
        text = text.strip().lstrip("#").strip()
        for part in re.split(r"(?<=[.!?])\s+(?=[A-Z\"'])", text):
            if part.strip():
                out.append(Sentence(number, speaker, part.strip(), position))
    return out


def draft_rules(source: Source) -> list[StoryDraft]:
    """The stories the rules find in ``source``, in order, near-repeats merged."""
    items = sentences(source)
    stories: list[StoryDraft] = []
    for index, sentence in enumerate(items):
        parts = _statement(sentence.text)
        if parts is None:
            continue
        context = _context(items, index)
        story = _story(sentence, parts, context)
        if not _merge_into(stories, story):
            stories.append(story)
    return stories


def _statement(text: str) -> tuple[str, str, str, str] | None:
    """(title, role, want, benefit) when ``text`` states a requirement."""
    clean = text.strip().rstrip(".!").strip()
    if clean.endswith("?") or _NEGATIVE.search(clean) or len(clean.split()) < 4:
        return None
    if (match := _USER_STORY.search(clean)) is not None:
        role, want = match.group(1).strip(), match.group(2).strip()
        want, benefit = _benefit(want)
        return _title(want), role, want, benefit
    if (match := _MARKED.match(clean)) is not None:
        want, benefit = _benefit(match.group(1).strip())
        return _title(want), TBD, want, benefit
    if (match := _THERE.match(clean)) is not None:
        want, benefit = _benefit(match.group(1).strip())
        return _title(want), TBD, want, benefit
    if (match := _MODAL.match(clean)) is None:
        return None
    subject, modal, infinitive, rest = (g or "" for g in match.groups())
    subject, modal, rest = subject.strip(), modal.strip(), rest.strip()
    subject = subject[:1].lower() + subject[1:]
    rest, benefit = _benefit(rest)
    if len(rest.split()) < 2 or _MEETING_TALK.match(rest):
        return None
    who = subject.lower().removeprefix("the ").removeprefix("our ").strip()
    verb = infinitive or modal.lower() not in (
        "need",
        "needs",
        "want",
        "wants",
        "require",
        "requires",
    )
    want = f"to {rest}" if verb else rest
    if who in _WE:
        return _title(rest), TBD, want, benefit
    if _PEOPLE.search(who):
        return _title(rest), subject, want, benefit
    if modal.lower() in ("need", "needs", "want", "wants", "require", "requires"):
        return None  # "the store needs restocking": a remark, not a requirement
    return _title(f"{subject} {modal} {rest}"), TBD, f"{subject} to {rest}", benefit


def _benefit(want: str) -> tuple[str, str]:
    match = _BENEFIT.search(want)
    if match is None:
        return want.rstrip(" ,."), TBD
    return want[: match.start()].rstrip(" ,."), match.group(1).rstrip(" .")


def _title(text: str) -> str:
    text = re.sub(r"^(to |be able to |an? )+", "", text.strip(), flags=re.IGNORECASE)
    text = text.rstrip(" .,")
    if len(text) > 90:
        text = text[:90].rsplit(" ", 1)[0]
    return text[:1].upper() + text[1:]


def _context(items: list[Sentence], index: int) -> list[Sentence]:
    """The sentences right after a statement that talk about it (at most two)."""
    out = []
    for item in items[index + 1 : index + 3]:
        if item.position - items[index].position > 2 or _statement(item.text) is not None:
            break
        said = find_points(item.text) or find_priority(item.text) != TBD
        if not _CONTEXT_START.match(item.text) and not said:
            break
        out.append(item)
    return out


def _story(
    sentence: Sentence, parts: tuple[str, str, str, str], context: list[Sentence]
) -> StoryDraft:
    title, role, want, benefit = parts
    said = " ".join([sentence.text, *(c.text for c in context)])
    description = f"As {_article(role)}{role}, I want {want}, so that {benefit}"
    return StoryDraft(
        title=title,
        priority=find_priority(said),
        points=find_points(said) or TBD,
        description=description,
        acceptance_criteria=find_criteria(said) or [TBD],
        labels=[w for w in _LABELS if re.search(rf"\b{w}\b", sentence.text, re.IGNORECASE)][:3],
        source_lines=sorted({sentence.line, *(c.line for c in context)}),
    )


def _article(role: str) -> str:
    if role == TBD or role.lower().startswith(("a ", "an ", "the ")):
        return "a " if role == TBD else ""
    if role.endswith("s") and not role.endswith("ss"):
        return ""
    return "an " if role[:1].lower() in "aeiou" else "a "


def find_priority(text: str) -> str:
    """The priority the words in ``text`` give, else TBD."""
    for priority, pattern in _PRIORITY_WORDS:
        if re.search(pattern, text, re.IGNORECASE):
            return priority
    return TBD


def find_points(text: str) -> int | None:
    """A Fibonacci estimate stated in ``text`` ("5 points", "estimate is 3"), else None."""
    for match in _POINTS.finditer(text):
        value = match.group(1) or match.group(2)
        if value and float(value) in FIBONACCI:
            return int(float(value))
    return None


def find_criteria(text: str) -> list[str]:
    """Given/When/Then criteria stated in ``text``; parts not stated are TBD."""
    out = []
    for match in _GWT.finditer(text):
        given, when, then = (g.strip(" .,") for g in match.groups())
        out.append(f"Given {given}, when {when}, then {then}")
    if not out:
        for match in _DONE_WHEN.finditer(text):
            out.append(f"Given {TBD}, when {TBD}, then {match.group(1).strip(' .,')}")
    return out


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _merge_into(stories: list[StoryDraft], story: StoryDraft) -> bool:
    """Fold a near-repeat of an earlier story into it (the meeting said it twice)."""
    words = _words(story.title)
    for i, other in enumerate(stories):
        theirs = _words(other.title)
        if words and theirs and len(words & theirs) / len(words | theirs) >= 0.75:
            lines = sorted({*other.source_lines, *story.source_lines})
            stories[i] = other.model_copy(update={"source_lines": lines})
            return True
    return False
