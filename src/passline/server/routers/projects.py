"""Projects and their members."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

from passline.core.entities import Member, Project
from passline.server.deps import api_services
from passline.services.workspace import Services

router = APIRouter(tags=["projects"])


class NewProject(BaseModel):
    name: str
    description: str = ""


class Membership(BaseModel):
    role: str = "viewer"


@router.post("/projects", response_model=Project, status_code=201)
def create_project(body: NewProject, svc: Services = Depends(api_services)) -> Project:
    return svc.projects.create(body.name, body.description)


@router.get("/projects", response_model=list[Project])
def list_projects(svc: Services = Depends(api_services)) -> list[Project]:
    return svc.projects.list()


@router.get("/projects/{name}", response_model=Project)
def get_project(name: str, svc: Services = Depends(api_services)) -> Project:
    return svc.projects.get(name)


@router.get("/projects/{name}/members", response_model=list[Member])
def members(name: str, svc: Services = Depends(api_services)) -> list[Member]:
    return svc.projects.members(name)


@router.put("/projects/{name}/members/{user}", response_model=Member)
def add_member(
    name: str, user: str, body: Membership, svc: Services = Depends(api_services)
) -> Member:
    return svc.projects.add_member(name, user, body.role)


@router.delete("/projects/{name}/members/{user}", status_code=204)
def remove_member(name: str, user: str, svc: Services = Depends(api_services)) -> Response:
    svc.projects.remove_member(name, user)
    return Response(status_code=204)
