"""The built-in guards, registered through the same hook a third-party guard uses."""

from __future__ import annotations

from passline.guard.base import register
from passline.guard.injection import InjectionConfig, InjectionGuard
from passline.guard.output import RestrictedConfig, RestrictedGuard, SchemaConfig, SchemaGuard
from passline.guard.pii_guard import PiiConfig, PiiGuard
from passline.guard.topics import TopicConfig, TopicGuard
from passline.guard.toxicity import ToxicityConfig, ToxicityGuard

BUILTIN = [
    (PiiConfig, PiiGuard),
    (InjectionConfig, InjectionGuard),
    (ToxicityConfig, ToxicityGuard),
    (TopicConfig, TopicGuard),
    (RestrictedConfig, RestrictedGuard),
    (SchemaConfig, SchemaGuard),
]

for _config, _guard in BUILTIN:
    register(_config, _guard)
