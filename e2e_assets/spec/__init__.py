"""Journey specs: ``journey.yaml`` parsed into typed, validated config."""

from e2e_assets.spec.loader import Journey, load_journey
from e2e_assets.spec.model import (
    CHECK_KINDS,
    STAGES,
    CheckSpec,
    JourneySpec,
    ModelSpec,
    SinkSpec,
    StageSpec,
)

__all__ = ["CHECK_KINDS", "STAGES", "CheckSpec", "Journey", "JourneySpec", "ModelSpec",
           "SinkSpec", "StageSpec", "load_journey"]
