"""e2e-assets: production integration tests for ML models inside end-to-end business flows.

The core (spec, stages, sources, sinks, registry, provenance, bootstrap) works without Dagster;
``e2e_assets.orchestration`` is the only subpackage that imports it.
"""

from e2e_assets.errors import (
    E2EAssetsError,
    InfrastructureError,
    ModelResolutionError,
    SpecError,
    StageError,
)
from e2e_assets.spec import Journey, JourneySpec, load_journey

__version__ = "0.1.0"

__all__ = ["E2EAssetsError", "InfrastructureError", "Journey", "JourneySpec",
           "ModelResolutionError", "SpecError", "StageError", "__version__", "load_journey"]
