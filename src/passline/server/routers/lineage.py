"""The lineage graph."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from passline.core.entities import LineageEdge, LineageGraph, LineageNode
from passline.server.deps import api_services
from passline.services.workspace import Services

router = APIRouter(tags=["lineage"])


class NewNode(BaseModel):
    ref: str
    label: str
    project: str


class NewEdge(BaseModel):
    src: str
    dst: str
    type: str
    attrs: dict[str, Any] = Field(default_factory=dict)


class EdgeBatch(BaseModel):
    edges: list[NewEdge]


@router.post("/lineage/nodes", response_model=LineageNode, status_code=201)
def register_node(body: NewNode, svc: Services = Depends(api_services)) -> LineageNode:
    return svc.lineage.register(body.ref, body.label, body.project)


@router.post("/lineage/edges", response_model=LineageEdge, status_code=201)
def link(body: NewEdge, svc: Services = Depends(api_services)) -> LineageEdge:
    return svc.lineage.link(body.src, body.dst, body.type, body.attrs)


@router.post("/lineage/edges:batch", response_model=list[LineageEdge], status_code=201)
def link_many(body: EdgeBatch, svc: Services = Depends(api_services)) -> list[LineageEdge]:
    return svc.lineage.link_many([e.model_dump() for e in body.edges])


@router.get("/lineage/graph", response_model=LineageGraph)
def graph(
    ref: str,
    direction: Literal["up", "down", "both"] = "up",
    depth: int | None = None,
    svc: Services = Depends(api_services),
) -> LineageGraph:
    return svc.lineage.graph(ref, direction, depth)
