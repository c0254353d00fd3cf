"""Journey specs: ``journey.yaml`` parsed into typed, validated config."""

from e2e_assets.spec.loader import Journey, load_journey
from e2e_assets.spec.model import (
    STAGES,
    CheckSpec,
    JourneySpec,
    ModelSpec,
    SinkSpec,
    StageSpec,
)

__all__ = ["STAGES", "CheckSpec", "Journey", "JourneySpec", "ModelSpec",
           "SinkSpec", "StageSpec", "load_journey"]
