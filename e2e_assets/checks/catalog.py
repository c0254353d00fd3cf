"""Importing this module registers every built-in check kind."""

from e2e_assets.checks import (  # noqa: F401
    challenger,
    contract,
    drift,
    expectations,
    fairness,
    fallback,
    golden,
    joint_drift,
    latency,
    quality,
    reconcile,
    reproducibility,
    request_latency,
    rules,
    sink_audit,
)
