"""Check options, parsed once when a journey loads, against each kind's own options model.

Every problem is collected before reporting (not the first only): an unknown kind, a kind on a
stage it cannot attach to, an invalid option, a missing or malformed suite file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from e2e_assets.checks.base import REGISTRY, ConfiguredCheck, get_kind
from e2e_assets.errors import SpecError, UnknownNameError
from e2e_assets.spec.lines import line_for
from e2e_assets.spec.model import JourneySpec

if TYPE_CHECKING:
    from e2e_assets.spec.loader import Journey

Lines = Mapping[tuple[str, ...], int]


def parse_check_options(spec: JourneySpec, file: str, lines: Lines
                        ) -> dict[str, tuple[ConfiguredCheck, ...]]:
    """``{stage: (check, ...)}`` with options parsed; SpecError lists every problem."""
    parsed: dict[str, tuple[ConfiguredCheck, ...]] = {}
    problems: list[SpecError] = []
    for stage, checks in spec.checks.items():
        if stage not in spec.stage_names:
            problems.append(SpecError(
                f"checks name stage '{stage}', which the journey does not have; its stages: "
                f"{list(spec.stage_names)}", file=file, field=f"checks.{stage}",
                line=line_for(("checks", stage), lines)))
            continue
        names = [c.check_name for c in checks]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.append(SpecError(
                f"checks on stage '{stage}' must have unique names; repeated: {dupes} (set "
                f"'name:' to tell them apart)", file=file, field=f"checks.{stage}",
                line=line_for(("checks", stage), lines)))
    for stage in spec.stage_names:
        out = []
        for i, check in enumerate(spec.checks.get(stage, [])):
            loc = ("checks", stage, str(i))
            try:
                options = _parse_one(spec, stage, check.kind, check.options, loc, file, lines)
            except SpecError as exc:
                problems.append(exc)
                continue
            out.append(ConfiguredCheck(stage=stage, spec=check, kind=get_kind(check.kind),
                                       options=options, position=i))
        parsed[stage] = tuple(out)
    _raise_all(problems, file)
    return parsed


def _parse_one(spec: JourneySpec, stage: str, kind_name: str, raw: Mapping[str, Any],
               loc: tuple[str, ...], file: str, lines: Lines) -> Any:
    try:
        kind = get_kind(kind_name)
    except UnknownNameError:
        raise SpecError(f"unknown check kind '{kind_name}'; expected one of {sorted(REGISTRY)}",
                        file=file, field=".".join((*loc, "kind")),
                        line=line_for((*loc, "kind"), lines)) from None
    if kind.stages is not None and stage not in kind.stages:
        raise SpecError(f"check kind '{kind_name}' cannot attach to stage '{stage}'; it "
                        f"attaches to {list(kind.stages)}", file=file, field=".".join(loc),
                        line=line_for(loc, lines))
    try:
        options = kind.options.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        sub = tuple(str(p) for p in err["loc"])
        msg = "unknown option" if err["type"] == "extra_forbidden" else err["msg"]
        raise SpecError(f"{msg}; options of '{kind_name}': "
                        f"{', '.join(kind.options.model_fields)}", file=file,
                        field=".".join((*loc, "options", *sub)),
                        line=line_for((*loc, "options", *sub), lines)) from exc
    if kind.validate_spec is not None:
        problem = kind.validate_spec(spec, stage, options)
        if problem:
            field, message = problem
            raise SpecError(message, file=file, field=".".join((*loc, "options", field)),
                            line=line_for((*loc, "options", field), lines))
    return options


def validate_check_files(journey: Journey, lines: Lines) -> None:
    """Files that checks name (GX suites) exist and are well-formed."""
    from e2e_assets.checks.expectations import load_suite, suite_path_for

    problems: list[SpecError] = []
    for stage in journey.stages:
        for check in journey.checks_for(stage):
            if check.kind.name == "expectations":
                try:
                    load_suite(suite_path_for(journey, stage, check.options))
                except SpecError as exc:
                    problems.append(exc)
    _raise_all(problems, str(journey.path))


def _raise_all(problems: list[SpecError], file: str) -> None:
    if len(problems) == 1:
        raise problems[0]
    if problems:
        first = problems[0]
        listing = "\n  ".join(str(p) for p in problems)
        raise SpecError(f"{len(problems)} problems:\n  {listing}", file=first.file or file,
                        field=first.field, line=first.line)
