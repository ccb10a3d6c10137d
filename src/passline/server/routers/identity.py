"""Users, tokens and the caller's own identity."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from passline.core.entities import CreatedToken, TokenInfo, User
from passline.server.deps import api_services
from passline.services.workspace import Services

router = APIRouter(tags=["identity"])


class NewUser(BaseModel):
    name: str
    display_name: str | None = None
    kind: Literal["user", "service"] = "user"
    admin: bool = False


class NewToken(BaseModel):
    name: str
    user: str | None = None
    ttl_days: int | None = None


@router.get("/me", response_model=User)
def whoami(svc: Services = Depends(api_services)) -> User:
    return svc.identity.whoami()


@router.post("/users", response_model=User, status_code=201)
def create_user(body: NewUser, svc: Services = Depends(api_services)) -> User:
    return svc.identity.create_user(**body.model_dump())


@router.get("/users", response_model=list[User])
def list_users(svc: Services = Depends(api_services)) -> list[User]:
    return svc.identity.list_users()


class Disabled(BaseModel):
    disabled: bool


@router.put("/users/{name}/disabled", response_model=User)
def set_disabled(name: str, body: Disabled, svc: Services = Depends(api_services)) -> User:
    return svc.identity.set_disabled(name, body.disabled)


@router.post("/tokens", response_model=CreatedToken, status_code=201)
def create_token(body: NewToken, svc: Services = Depends(api_services)) -> CreatedToken:
    return svc.identity.create_token(**body.model_dump())


@router.get("/tokens", response_model=list[TokenInfo])
def list_tokens(user: str | None = None, svc: Services = Depends(api_services)) -> list[TokenInfo]:
    return svc.identity.list_tokens(user)


@router.delete("/tokens/{token_id}", response_model=TokenInfo)
def revoke_token(token_id: str, svc: Services = Depends(api_services)) -> TokenInfo:
    return svc.identity.revoke_token(token_id)
