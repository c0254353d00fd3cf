"""Asset checks attached to stages, built from the spec's ``checks:`` section.

Each check kind has one builder, ``build_<kind>_checks(journey, stage, spec)``, registered in
:data:`CHECK_BUILDERS`. A kind the spec allows but no builder implements yet fails at definition
time, naming the field, rather than being silently skipped.
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from e2e_assets.errors import SpecError
from e2e_assets.spec import CheckSpec, Journey

CheckBuilder = Callable[[Journey, str, CheckSpec], list[dg.AssetChecksDefinition]]
CHECK_BUILDERS: dict[str, CheckBuilder] = {}


def build_stage_checks(journey: Journey) -> list[dg.AssetChecksDefinition]:
    out: list[dg.AssetChecksDefinition] = []
    for stage, checks in journey.spec.checks.items():
        for i, check in enumerate(checks):
            builder = CHECK_BUILDERS.get(check.kind)
            if builder is None:
                raise SpecError(f"check kind '{check.kind}' is not implemented yet; available: "
                                f"{sorted(CHECK_BUILDERS) or 'none'}", file=str(journey.path),
                                field=f"checks.{stage}.{i}.kind")
            out.extend(builder(journey, stage, check))
    return out
