"""The public API is exactly ``__all__`` (as in httpx): adding or removing a public name is a
decision this test makes visible, and every listed name must exist."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "e2e_assets": {"DryRunError", "E2EAssetsError", "GoldenError", "HandoffError",
                   "InfrastructureError", "Journey", "JourneyComponent", "JourneySpec",
                   "ModelResolutionError",
                   "RunContext", "SpecError", "StageError", "StageOutcome", "UnknownNameError",
                   "__version__", "load_journey", "run_stage_protocol"},
    "e2e_assets.spec": {"CheckSpec", "Journey", "JourneySpec", "ModelSpec", "STAGES",
                        "SinkSpec", "StageSpec", "load_journey"},
    "e2e_assets.checks": {"CheckKind", "CheckResult", "ConfiguredCheck", "Options", "REGISTRY",
                          "StageCheckContext", "get_kind", "register"},
    "e2e_assets.drift": {"ColumnDrift", "DriftMethod", "DriftReport", "METHODS", "Outcome",
                         "PreparedReference", "benjamini_hochberg", "column_kind", "compare",
                         "compare_sql", "default_method", "prepare", "register"},
    "e2e_assets.orchestration": {"JourneyComponent", "MlflowResource", "StageStore",
                                 "build_definitions", "build_journey_assets",
                                 "build_journey_definitions", "build_monitor_checks",
                                 "build_project_definitions", "journey_job_name"},
    "e2e_assets.handoff": {"HandoffRef", "RunStore", "file_lock", "stored_runs"},
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_all_is_the_public_api(module: str) -> None:
    mod = importlib.import_module(module)
    assert set(mod.__all__) == PUBLIC[module]
    assert len(mod.__all__) == len(set(mod.__all__)), "a name is listed twice"
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ lists {name!r}, which does not exist"


def test_error_classes_carry_their_exit_code() -> None:
    import e2e_assets as e
    from e2e_assets.errors import exit_code_for

    assert {cls.__name__: cls.exit_code for cls in (
        e.SpecError, e.DryRunError, e.UnknownNameError, e.ModelResolutionError,
        e.InfrastructureError, e.GoldenError, e.HandoffError, e.StageError)} == {
        "SpecError": 2, "DryRunError": 2, "UnknownNameError": 2, "ModelResolutionError": 2,
        "InfrastructureError": 2, "GoldenError": 1, "HandoffError": 1, "StageError": 1}
    assert exit_code_for("DryRunError") == 2 and exit_code_for("StageError") == 1
    assert exit_code_for("ValueError") is None
    assert issubclass(e.UnknownNameError, KeyError) and issubclass(e.DryRunError, e.SpecError)
