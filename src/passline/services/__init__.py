"""The service layer: every business rule, role check and audit entry lives here.

Surfaces (SDK, REST, CLI, UI) build a :class:`CallContext` and call these services; they
never touch the store themselves.
"""

from passline.services.context import Actor, CallContext
from passline.services.workspace import Services, Workspace

__all__ = ["Actor", "CallContext", "Services", "Workspace"]
