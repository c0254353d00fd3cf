"""Exceptions raised by e2e-assets. Each class carries the CLI exit code it means.

The tree::

    E2EAssetsError (exit 2)        base of everything the package raises on purpose
    ├── SpecError (2)              a journey spec is wrong (file, line, field path, expected)
    │   └── DryRunError (2)        the spec names a column/table that the data does not have,
    │                              found by the dry run on a sample before the real run
    ├── UnknownNameError (2)       an unknown drift method or check kind (also a KeyError)
    ├── ModelResolutionError (2)   a models:/<name>@<alias> URI does not resolve in MLflow
    ├── InfrastructureError (2)    a database, the registry, a file or DAGSTER_HOME is not usable
    ├── GoldenError (1)            a golden set is missing, too small, or unlabelled
    │   └── GoldenTamperedError (1) its content differs from the digest bound to the version
    ├── UnblessedModelError (1)    a served version has no passing gate record for its alias
    ├── GateRefusedError (1)       the promotion gate refused a version a command registered
    ├── HandoffError (1)           a stage's input is not what its upstream wrote in this run
    └── StageError (1)             a journey's own stage function raised or returned garbage

Exit codes: 0 every blocking check passed; 1 the journey under test is broken or a blocking
check failed; 2 bad configuration or infrastructure, found before anything runs.
A data failure (a check that does not pass) is never an exception: it is a result.
"""

from __future__ import annotations

from collections.abc import Iterable

EXIT_OK, EXIT_CHECK_FAILED, EXIT_CONFIG = 0, 1, 2


class E2EAssetsError(Exception):
    """Base class for every error e2e-assets raises on purpose."""

    exit_code: int = EXIT_CONFIG


class SpecError(E2EAssetsError):
    """A journey spec is invalid. Carries the file, the line and the field path."""

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


class DryRunError(SpecError):
    """The dry run on a source sample found checks or stages naming what the data lacks.

    ``problems`` holds one entry per problem (stage, check, column, message), all of them,
    not the first only.
    """

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None,
                 line: int | None = None, stage: str | None = None, check: str | None = None,
                 column: str | None = None,
                 problems: Iterable[dict[str, object]] = ()) -> None:
        self.stage, self.check, self.column = stage, check, column
        self.problems = tuple(problems)
        super().__init__(message, file=file, field=field, line=line)


class UnknownNameError(E2EAssetsError, KeyError):
    """An unknown registered name (drift method, check kind); lists the known ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ModelResolutionError(E2EAssetsError):
    """A model URI does not resolve to a registered model version."""


class InfrastructureError(E2EAssetsError):
    """Something outside the journey (database, registry, filesystem) is not reachable."""


class GoldenError(E2EAssetsError):
    """The golden set is missing, or does not match its recorded digest."""

    exit_code = EXIT_CHECK_FAILED


class GoldenTamperedError(GoldenError):
    """The golden set differs from the digest bound immutably to its model version: tampering,
    never reported as a regression."""


class UnblessedModelError(E2EAssetsError):
    """A served model version carries no passing gate record for the alias it is served under
    (the alias was moved by hand, or the version was never gated)."""

    exit_code = EXIT_CHECK_FAILED


class GateRefusedError(E2EAssetsError):
    """The promotion gate refused the version a command registered (bootstrap): nothing serves
    it, and it is tagged with the reasons."""

    exit_code = EXIT_CHECK_FAILED


class HandoffError(E2EAssetsError):
    """A stage's input differs from what its upstream recorded in the same run: fail closed."""

    exit_code = EXIT_CHECK_FAILED


class StageError(E2EAssetsError):
    """A stage function of a journey raised, or returned something that is not a valid frame."""

    exit_code = EXIT_CHECK_FAILED

    def __init__(self, journey: str, stage: str, message: str) -> None:
        self.journey = journey
        self.stage = stage
        super().__init__(f"stage '{stage}' of journey '{journey}' failed: {message}")


def exit_code_for(class_name: str) -> int | None:
    """The exit code of the e2e-assets error class called ``class_name`` (None: not ours).

    Dagster hands step errors over by class name, so a run's summary maps them back here.
    """
    stack: list[type[E2EAssetsError]] = [E2EAssetsError]
    while stack:
        cls = stack.pop()
        if cls.__name__ == class_name:
            return cls.exit_code
        stack.extend(cls.__subclasses__())
    return None
