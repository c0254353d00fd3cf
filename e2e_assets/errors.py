"""Exceptions raised by e2e-assets.

The tree::

    E2EAssetsError                 base of everything the package raises on purpose
    ├── SpecError                  a journey spec is wrong (file, field path, what was expected)
    ├── ModelResolutionError       a models:/<name>@<alias> URI does not resolve in MLflow
    ├── InfrastructureError        a database, the registry or a file cannot be reached/read
    └── StageError                 a journey's own stage function raised or returned garbage

A data failure (a check that does not pass) is never an exception: it is a result.
The CLI maps SpecError, ModelResolutionError and InfrastructureError to exit code 2 and
StageError (the journey under test broke) to exit code 1.
"""

from __future__ import annotations


class E2EAssetsError(Exception):
    """Base class for every error e2e-assets raises on purpose."""


class SpecError(E2EAssetsError):
    """A journey spec is invalid. Carries the file and the field path."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None,
                 line: int | None = None) -> None:
        self.file = file
        self.field = field
        self.line = line
        self.detail = message
        where = file or "<spec>"
        if line is not None:
            where += f":{line}"
        if field:
            where += f" at '{field}'"
        super().__init__(f"{where}: {message}")


class ModelResolutionError(E2EAssetsError):
    """A model URI does not resolve to a registered model version."""


class InfrastructureError(E2EAssetsError):
    """Something outside the journey (database, registry, filesystem) is not reachable."""


class StageError(E2EAssetsError):
    """A stage function of a journey raised, or returned something that is not a valid frame."""

    def __init__(self, journey: str, stage: str, message: str) -> None:
        self.journey = journey
        self.stage = stage
        super().__init__(f"stage '{stage}' of journey '{journey}' failed: {message}")
