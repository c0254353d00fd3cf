"""Check options, parsed once when a journey loads, against each kind's own options model.

Every problem is collected before reporting (not the first only): an unknown kind, a kind on a
stage it cannot attach to, an invalid option, a missing or malformed suite file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from e2e_assets.checks.base import REGISTRY, ConfiguredCheck, get_kind
from e2e_assets.checks.fallback import FALLBACK
from e2e_assets.errors import SpecError, UnknownNameError
from e2e_assets.spec.lines import line_for
from e2e_assets.spec.model import CheckSpec, JourneySpec

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
                options = _parse_one(spec, stage, check.kind, check.options, loc, file, lines,
                                     name=check.check_name)
            except SpecError as exc:
                problems.append(exc)
                continue
            out.append(ConfiguredCheck(stage=stage, spec=check, kind=get_kind(check.kind),
                                       options=options, position=i))
        problems += _with_fallback_check(spec, stage, out, file, lines)
        parsed[stage] = tuple(out)
    raise_all(problems, file)
    return parsed


def _with_fallback_check(spec: JourneySpec, stage: str, checks: list[ConfiguredCheck],
                         file: str, lines: Lines) -> list[SpecError]:
    """A stage that declares ``fallback:`` always has a ``fallback`` check (added, blocking,
    unless declared); one declared on a stage without a fallback has nothing to check."""
    stage_spec = spec.stage(stage)
    declared = [c for c in checks if c.kind.name == FALLBACK]
    if stage_spec is not None and stage_spec.fallback is not None:
        if not declared:
            kind = get_kind(FALLBACK)
            checks.append(ConfiguredCheck(stage=stage, spec=CheckSpec(kind=FALLBACK),
                                          kind=kind, options=kind.options(),
                                          position=len(spec.checks.get(stage, []))))
        return []
    return [SpecError(f"check kind '{FALLBACK}' bounds the share of a stage's declared "
                      f"fallback, and stage '{stage}' declares none (add 'fallback:' under "
                      f"stages.{stage})", file=file, field=f"checks.{stage}.{c.position}.kind",
                      line=line_for(("checks", stage, str(c.position), "kind"), lines))
            for c in declared]


def _parse_one(spec: JourneySpec, stage: str, kind_name: str, raw: Mapping[str, Any],
               loc: tuple[str, ...], file: str, lines: Lines, *, name: str = "") -> Any:
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
        known = f"options of '{kind_name}': {', '.join(kind.options.model_fields)}"
        if err["type"] == "extra_forbidden":
            msg = f"unknown option; {known}"
        elif err["type"] == "value_error":  # our own validators: their message is the point
            msg = str(err.get("ctx", {}).get("error") or err["msg"])
        else:
            msg = f"{err['msg']}; {known}"
        raise SpecError(f"check '{name or kind_name}': {_named_item(raw, err['loc'])}{msg}",
                        file=file,
                        field=".".join((*loc, "options", *sub)),
                        line=line_for((*loc, "options", *sub), lines)) from exc
    except (RecursionError, MemoryError) as exc:  # e.g. a rule of hundreds of chained terms
        sub = _culprit(kind.options, raw)
        raise SpecError(f"check '{name or kind_name}': {_named_item(raw, sub)}too deeply "
                        f"nested or too large to check ({type(exc).__name__}); simplify it or "
                        f"split it up", file=file,
                        field=".".join((*loc, "options", *map(str, sub))),
                        line=line_for((*loc, "options", *map(str, sub)), lines)) from None
    if kind.validate_spec is not None:
        problem = kind.validate_spec(spec, stage, options)
        if problem:
            field, message = problem
            raise SpecError(message, file=file, field=".".join((*loc, "options", field)),
                            line=line_for((*loc, "options", field), lines))
    return options


def _named_item(raw: Any, path: Sequence[Any]) -> str:
    """``rule 'name': `` when ``path`` goes through a list item that has a name, else ''."""
    node, parent, named = raw, "item", ""
    for part in path:
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                named = f"{parent.removesuffix('s')} '{node['name']}': "
        elif isinstance(node, dict) and part in node:
            parent, node = str(part), node[part]
        else:
            break
    return named


def _culprit(model: Any, raw: Mapping[str, Any]) -> tuple[Any, ...]:
    """The list item of ``raw`` that alone makes validation blow up (RecursionError or
    MemoryError), as a path, else ()."""
    for key, value in raw.items():
        if isinstance(value, list):
            for i, item in enumerate(value):
                try:
                    model.model_validate({**raw, key: [item]})
                except (RecursionError, MemoryError):
                    return (key, i)
                except Exception:  # noqa: BLE001, S112 - another problem, not this culprit
                    continue
    return ()


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
    raise_all(problems, str(journey.path))


def raise_all(problems: list[SpecError], file: str) -> None:
    if len(problems) == 1:
        raise problems[0]
    if problems:
        first = problems[0]
        listing = "\n  ".join(str(p) for p in problems)
        raise SpecError(f"{len(problems)} problems:\n  {listing}", file=first.file or file,
                        field=first.field, line=first.line)
