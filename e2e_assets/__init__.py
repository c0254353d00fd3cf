"""e2e-assets: production integration tests for ML models inside end-to-end business flows.

The core (spec, the stage protocol, stages, sources, sinks, the model registry, provenance,
checks, drift, bootstrap) works without Dagster; ``e2e_assets.orchestration`` is the only
subpackage that imports it.
"""

from e2e_assets.errors import (
    DryRunError,
    E2EAssetsError,
    GoldenError,
    HandoffError,
    InfrastructureError,
    ModelResolutionError,
    SpecError,
    StageError,
    UnknownNameError,
)
from e2e_assets.protocol import RunContext, StageOutcome, run_stage_protocol
from e2e_assets.spec import Journey, JourneySpec, load_journey

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # ``e2e_assets.JourneyComponent`` (a defs.yaml's ``type:``), imported only when asked for,
    # so that the core keeps working without Dagster.
    if name == "JourneyComponent":
        from e2e_assets.orchestration.component import JourneyComponent

        return JourneyComponent
    raise AttributeError(f"module 'e2e_assets' has no attribute {name!r}")


def __dir__() -> list[str]:
    # Dagster's registry lists a module's components through dir(); the lazy one included.
    return sorted({*globals(), "JourneyComponent"})

__all__ = ["DryRunError", "E2EAssetsError", "GoldenError", "HandoffError", "InfrastructureError",
           "Journey", "JourneyComponent", "JourneySpec", "ModelResolutionError", "RunContext", "SpecError",
           "StageError", "StageOutcome", "UnknownNameError", "__version__", "load_journey",
           "run_stage_protocol"]
