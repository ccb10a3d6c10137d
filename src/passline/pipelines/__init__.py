"""Pipelines: steps declared in Python, run locally or on Ray, cached and recorded.

    from passline.pipelines import Dataset, Model, Metrics, Pipeline, step

See docs/pipelines.md.
"""

from passline.pipelines.dsl import Pipeline, Step, step
from passline.pipelines.types import Dataset, File, Metrics, Model

__all__ = ["Dataset", "File", "Metrics", "Model", "Pipeline", "Step", "step"]
