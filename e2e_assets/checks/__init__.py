"""Stage checks: pure functions over frames, registered by kind (see :mod:`.base`)."""

from e2e_assets.checks.base import (
    REGISTRY,
    CheckKind,
    CheckResult,
    ConfiguredCheck,
    Options,
    StageCheckContext,
    get_kind,
    register,
)

__all__ = ["REGISTRY", "CheckKind", "CheckResult", "ConfiguredCheck", "Options", "StageCheckContext", "get_kind",
           "register"]
