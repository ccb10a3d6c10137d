# ruff: noqa: E501  (the transcript keeps its long spoken lines)
"""The backlog part of ``passline demo``: a retail planning meeting becomes Jira stories.

The transcript below (demand forecasting for the stores, with some vague parts) is drafted
in rules mode (no model, under a second), every draft is accepted as the demo's reviewer,
and the stories are exported as Jira CSV under the home. Where the meeting was vague (no
priority, no estimate, no user named) the story says TO BE DEFINED.
"""

from __future__ import annotations

from pathlib import Path

from passline.errors import NotFound
from passline.services.workspace import Services, Workspace

__all__ = ["PROJECT", "TRANSCRIPT", "backlog_demo"]

PROJECT = "retail-demand"
TRANSCRIPT = """\
Retail planning meeting - demand forecasting for stores
Attendees: Maria (category manager), Jonas (data science), Leila (store operations)

Maria: Thanks for joining. The goal today is the weekly demand forecast for the stores.
Maria: We need a weekly demand forecast per store and product, so that replenishment orders match what sells.
Jonas: That's top priority. The team estimated it at 8 points.
Leila: As a store manager, I want to see the forecast for my store on a dashboard so that I can plan staff and shelf space.
Maria: It's done when a store manager sees next week's forecast every Monday morning.
Jonas: The system must flag products whose forecast error is above the agreed threshold.
Leila: What is the threshold, though? We never agreed on a number.
Maria: Good question, let's leave that open.
Jonas: We should also account for promotions somehow, maybe later.
Maria: Fine, low priority for now.
Leila: Store managers must be able to correct a forecast when they know about a local event.
Jonas: Hmm, how long would that take? I'm not sure yet.
Maria: We decided to start with the 20 pilot stores in the north region.
Maria: Action item: Jonas to share the backtest results by Friday.
Leila: I'll collect feedback from two pilot store managers.
Maria: Anything else? No? Thanks everyone.
"""


def backlog_demo(workspace: Workspace, admin: Services, home: Path) -> list[str]:
    """Draft, accept and export the meeting's stories; lines for the demo's summary."""
    try:
        admin.projects.get(PROJECT)
    except NotFound:
        admin.projects.create(PROJECT)
    folder = home / "backlog"
    folder.mkdir(parents=True, exist_ok=True)
    transcript = folder / "retail-planning-meeting.txt"
    transcript.write_text(TRANSCRIPT, encoding="utf-8")
    batch = admin.backlog.draft(PROJECT, text=TRANSCRIPT, name=transcript.name, mode="rules")
    for story in batch.stories:
        admin.backlog.accept(story.id)  # the demo plays the reviewer
    export = admin.backlog.export(PROJECT, "jira-csv", batch.id)
    out = folder / "retail-planning-stories.jira.csv"
    out.write_text(export["content"], encoding="utf-8", newline="")
    undefined = sum(1 for s in batch.stories if s.open_fields())
    summary = batch.summary
    return [
        f"backlog:   {len(batch.stories)} stories from {transcript.name} "
        f"({undefined} with fields TO BE DEFINED), {len(summary.action_items)} action items, "
        f"{len(summary.open_questions)} open questions; Jira CSV at {out}",
    ]
