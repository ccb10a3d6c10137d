"""Infrastructure as code and CI templates: files to deploy and release Passline with.

Pure: it renders text from options and ``Settings`` and writes it atomically; it needs no
database, no workspace and no server. docs/infra.md and docs/ci.md describe the output.
"""

from passline.infra.ci import PROVIDERS, CiSpec, ci_files
from passline.infra.export import TARGETS, export, export_files, init_ci
from passline.infra.files import write_files
from passline.infra.spec import HEALTH_PATHS, DeploySpec

__all__ = [
    "HEALTH_PATHS",
    "PROVIDERS",
    "TARGETS",
    "CiSpec",
    "DeploySpec",
    "ci_files",
    "export",
    "export_files",
    "init_ci",
    "write_files",
]
