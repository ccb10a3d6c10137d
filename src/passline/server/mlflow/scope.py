"""Where MLflow's project-less names live in Passline's projects.

An experiment name ``fraud/baseline`` is experiment ``baseline`` of project ``fraud`` when
``fraud`` is a valid project name (lowercase letters, digits, ``.``, ``_``, ``-``); any other
name (``baseline``, ``/Users/ana/churn``, ``Team A/x``) is an experiment of the project
``mlflow``. Either project is created on first use by the caller, who becomes its admin; a
project that exists and does not admit the caller answers PERMISSION_DENIED.

MLflow's default experiment (id ``0``, used when no experiment is set) is the experiment
``Default`` of the project ``mlflow``.
"""

from __future__ import annotations

import re

from passline.core.entities import Experiment
from passline.errors import Conflict, NotFound
from passline.services.workspace import Services

__all__ = [
    "DEFAULT_EXPERIMENT",
    "DEFAULT_PROJECT",
    "display_name",
    "ensure_project",
    "resolve_experiment",
    "split_name",
]

DEFAULT_PROJECT = "mlflow"
DEFAULT_EXPERIMENT = "Default"
DEFAULT_EXPERIMENT_ID = "0"
_PROJECT = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def split_name(name: str) -> tuple[str, str]:
    """``(project, experiment)`` for an MLflow experiment name."""
    project, slash, rest = name.partition("/")
    if slash and rest and _PROJECT.match(project):
        return project, rest
    return DEFAULT_PROJECT, name


def display_name(experiment: Experiment) -> str:
    """The MLflow name of a Passline experiment: the inverse of :func:`split_name`."""
    if experiment.project == DEFAULT_PROJECT and split_name(experiment.name) == (
        DEFAULT_PROJECT,
        experiment.name,
    ):
        return experiment.name
    return f"{experiment.project}/{experiment.name}"


def ensure_project(svc: Services, project: str) -> None:
    """Create the project for the caller unless it exists (whoever created it)."""
    try:
        svc.projects.create(project, "Created for MLflow experiments.")
    except Conflict:
        pass


def resolve_experiment(svc: Services, experiment_id: str) -> Experiment:
    """An experiment by id; ``0`` is MLflow's default experiment, created on first use."""
    if experiment_id != DEFAULT_EXPERIMENT_ID:
        return svc.tracking.get_experiment(experiment_id)
    try:
        return svc.tracking.ensure_experiment(DEFAULT_PROJECT, DEFAULT_EXPERIMENT)
    except NotFound:
        ensure_project(svc, DEFAULT_PROJECT)
        return svc.tracking.ensure_experiment(DEFAULT_PROJECT, DEFAULT_EXPERIMENT)
