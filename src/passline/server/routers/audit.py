"""The audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from passline.core.entities import AuditEntry, AuditVerification
from passline.server.deps import api_services
from passline.services.workspace import Services

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=list[AuditEntry])
def audit_log(
    actor: str | None = None,
    object: str | None = None,
    action: str | None = None,
    project: str | None = None,
    before_seq: int | None = None,
    limit: int = 100,
    svc: Services = Depends(api_services),
) -> list[AuditEntry]:
    return svc.audit.log(actor, object, action, project, before_seq, limit)


@router.post("/audit/verify", response_model=AuditVerification)
def verify(svc: Services = Depends(api_services)) -> AuditVerification:
    return svc.audit.verify()
