"""Read a journey.yaml: parse, interpolate ``${VAR}``, validate, resolve stage functions.

Every failure is a :class:`SpecError` naming the file, the line where known, the field path and
what was expected, raised before anything runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from e2e_assets.checks.base import ConfiguredCheck
from e2e_assets.errors import SpecError
from e2e_assets.fallback import fallback_key
from e2e_assets.spec.alarm_budget import share_alpha
from e2e_assets.spec.check_options import parse_check_options, raise_all
from e2e_assets.spec.imports import import_function
from e2e_assets.spec.lines import line_for as _line_for
from e2e_assets.spec.lines import line_index as _line_index
from e2e_assets.spec.model import JourneySpec

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def identity(frame: Any) -> Any:
    """The identity stage: hands its input on unchanged."""
    return frame


@dataclass(frozen=True)
class Journey:
    """A validated spec with its file, its digest, its stage functions and parsed check options.

    ``functions`` maps every stage (identity stages included) to a callable, plus 'source' and
    'bootstrap' when the spec names them. ``checks[stage]`` holds the stage's checks, options parsed
    once when the spec loads. ``injected`` describes faults wrapped in on purpose (a drill), and
    ``base`` is the journey before they were, for references that must stay clean.
    """

    spec: JourneySpec
    path: Path
    config_digest: str
    functions: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    checks: Mapping[str, tuple[ConfiguredCheck, ...]] = field(default_factory=dict)
    injected: tuple[str, ...] = ()
    base: Journey | None = None
    lines: Mapping[tuple[str, ...], int] = field(default_factory=dict)  # field path -> line

    @property
    def name(self) -> str:
        return self.spec.journey

    @property
    def stages(self) -> tuple[str, ...]:
        return self.spec.stage_names

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def pristine(self) -> Journey:
        """The journey without injected faults."""
        return self.base or self

    @property
    def project_root(self) -> Path:
        """The nearest folder above the journey holding ``expectations/``, else the cwd."""
        for parent in self.path.parents:
            if (parent / "expectations").is_dir():
                return parent
        return Path.cwd()

    def upstream_of(self, stage: str) -> str | None:
        index = self.stages.index(stage)
        return self.stages[index - 1] if index else None

    def checks_for(self, stage: str, phase: str | None = None) -> tuple[ConfiguredCheck, ...]:
        """The checks configured on ``stage``, optionally only those of one phase."""
        return tuple(c for c in self.checks.get(stage, ()) if phase is None or c.phase == phase)


def load_journey(path: str | Path, *, variables: Mapping[str, str] | None = None,
                 resolve: bool = True) -> Journey:
    """Load and validate ``path``. ``variables`` are defaults for ``${VAR}`` (env wins)."""
    file = Path(path)
    if file.is_dir():
        raise SpecError("is a folder; expected a journey.yaml file", file=str(file))
    if not file.is_file():
        raise SpecError("journey file not found (expected a journey.yaml)", file=str(file))
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not a UTF-8 text file (byte {exc.start}: {exc.reason}); expected a "
                        f"journey.yaml", file=str(file)) from exc
    except OSError as exc:
        raise SpecError(f"cannot read the journey file: {exc.strerror or exc}",
                        file=str(file)) from exc
    if "\x00" in text:
        raise SpecError("contains NUL bytes: a binary file, expected a journey.yaml",
                        file=str(file))
    if not text.strip():
        raise SpecError("the file is empty; expected a journey spec (journey:, module:, "
                        "source:, stages:, sink:)", file=str(file))
    try:
        node = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise SpecError(f"malformed YAML: {exc.problem or exc}", file=str(file), line=line) from exc
    except RecursionError:
        raise SpecError("malformed YAML: nested too deeply to read (RecursionError)",
                        file=str(file)) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"malformed YAML: {exc}", file=str(file)) from exc
    if not isinstance(raw, dict):
        raise SpecError(f"expected a mapping at the top level, got {type(raw).__name__}",
                        file=str(file), line=1)
    lines = _line_index(node)
    if _is_component_file(raw):
        raw, lines = _component_attributes(raw, lines, file)
    return journey_from_mapping(raw, file=file, lines=lines, variables=variables,
                                resolve=resolve)


def journey_from_mapping(raw: Mapping[str, Any], *, file: Path,
                         lines: Mapping[tuple[str, ...], int] | None = None,
                         variables: Mapping[str, str] | None = None, resolve: bool = True,
                         package: str | None = None) -> Journey:
    """The one way a journey is built, from journey.yaml, a component's defs.yaml or Python:
    interpolate ``${VAR}``, validate, resolve functions, parse check options. ``file`` is where
    errors point (and the folder relative modules and paths start from); ``package`` is the
    Python package of that folder, when it has one."""
    lines = lines or {}
    env = {**(variables or {}), **os.environ}
    data = _interpolate(dict(raw), env, (), file, lines)
    try:
        spec = JourneySpec.model_validate(data)
    except ValidationError as exc:
        raise _spec_error(exc, file, lines, data) from exc
    _check_urls(spec, file, lines)
    _check_fallbacks(spec, file, lines)
    digest = hashlib.sha256(
        json.dumps(spec.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()
    functions = resolve_functions(spec, file, lines, package) if resolve else {}
    checks = share_alpha(parse_check_options(spec, str(file), lines), spec.false_alarm_rate,
                         file=str(file), lines=lines)
    journey = Journey(spec=spec, path=file.resolve(), config_digest=digest, functions=functions,
                      checks=checks, lines=lines)
    if resolve:
        from e2e_assets.spec.check_options import validate_check_files

        validate_check_files(journey, lines)
    return journey


COMPONENT_TYPE = "e2e_assets.JourneyComponent"


def component_attribute_lines(file: Path) -> dict[tuple[str, ...], int]:
    """Field path -> line of the journey fields in a component's defs.yaml (the first
    document of our type; {} when there is none or it cannot be read)."""
    try:
        text = file.read_text(encoding="utf-8")
        for node, raw in zip(yaml.compose_all(text), yaml.safe_load_all(text), strict=True):
            if isinstance(raw, dict) and raw.get("type") == COMPONENT_TYPE:
                return _attribute_lines(_line_index(node))
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        pass
    return {}


def _attribute_lines(lines: Mapping[tuple[str, ...], int]) -> dict[tuple[str, ...], int]:
    """A defs.yaml's line index with ``attributes.`` taken off: the journey's field paths."""
    return {loc[1:]: line for loc, line in lines.items() if loc[:1] == ("attributes",)}


def _is_component_file(raw: Mapping[str, Any]) -> bool:
    """A Dagster component file (``type:`` + ``attributes:``) rather than a journey.yaml."""
    return "type" in raw and "journey" not in raw


def _component_attributes(raw: Mapping[str, Any], lines: Mapping[tuple[str, ...], int],
                          file: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    """A JourneyComponent's defs.yaml read as the journey its attributes declare."""
    if raw["type"] != COMPONENT_TYPE:
        raise SpecError(f"is a Dagster component of type {raw['type']!r}; expected type "
                        f"{COMPONENT_TYPE} (or a journey.yaml)", file=str(file), field="type",
                        line=lines.get(("type",)))
    attributes = raw.get("attributes")
    if not isinstance(attributes, dict):
        raise SpecError("expected 'attributes:' holding the journey's fields (journey:, module:, "
                        "source:, stages:, sink:)", file=str(file), field="attributes",
                        line=lines.get(("attributes",), lines.get(("type",))))
    return attributes, _attribute_lines(lines)


def resolve_functions(spec: JourneySpec, file: Path,
                      lines: Mapping[tuple[str, ...], int] | None = None,
                      package: str | None = None) -> dict[str, Callable[..., Any]]:
    """Import every function the spec names; keys are stage names plus 'source'/'bootstrap'/'retrain'
    and ``<stage>:fallback`` for a stage's declared fallback. Relative module names (``.stages``)
    resolve against ``package``, else the journey's folder (:mod:`e2e_assets.spec.imports`)."""
    refs: dict[str, tuple[tuple[str, ...], str]] = {}
    out: dict[str, Callable[..., Any]] = {}
    for stage in spec.stage_names:
        stage_spec = spec.stage(stage)
        if stage_spec is None:
            out[stage] = identity
        else:
            refs[stage] = (("stages", stage, "function"), stage_spec.function)
            if stage_spec.fallback is not None:
                refs[fallback_key(stage)] = (("stages", stage, "fallback", "function"),
                                             stage_spec.fallback.function)
    if spec.source.kind == "generator":
        refs["source"] = (("source", "function"), spec.source.function)
    if spec.bootstrap is not None:
        refs["bootstrap"] = (("bootstrap", "function"), spec.bootstrap.function)
    if spec.release.retrain is not None:
        refs["retrain"] = (("release", "retrain", "function"), spec.release.retrain.function)
    for key, (loc, ref) in refs.items():
        out[key] = import_function(spec.module, ref, file=file, loc=loc, lines=lines or {},
                                   package=package)
    return out


def _check_fallbacks(spec: JourneySpec, file: Path, lines: Mapping[tuple[str, ...], int]
                     ) -> None:
    """A fallback stands in for a model: only a stage that serves one may declare it."""
    problems = [SpecError(f"stage '{stage}' declares a fallback but serves no model (stages "
                          f"with a model: {list(spec.model_stages)}); a fallback stands in for "
                          f"a model that cannot be loaded or raises", file=str(file),
                          field=f"stages.{stage}.fallback",
                          line=_line_for(("stages", stage, "fallback"), lines))
                for stage, stage_spec in spec.stages.items()
                if stage_spec is not None and stage_spec.fallback is not None
                and spec.model_for(stage) is None]
    raise_all(problems, str(file))


def _check_urls(spec: JourneySpec, file: Path, lines: Mapping[tuple[str, ...], int]) -> None:
    """Source and sink URLs parse as SQLAlchemy URLs (reachability is the preflight's)."""
    from sqlalchemy.engine import make_url

    for loc in (("source", "url"), ("sink", "url")):
        url = getattr(getattr(spec, loc[0]), "url", None)
        if url is None:
            continue
        try:
            make_url(url)
        except Exception:  # noqa: BLE001 - ArgumentError, ValueError: not a URL either way
            shown = "" if "@" in url else f" {url!r}"  # never show what may hold a password
            raise SpecError(f"not a database URL:{shown}; expected e.g. 'sqlite:///path.db' "
                            f"or 'postgresql+psycopg://user@host/db'", file=str(file),
                            field=".".join(loc), line=_line_for(loc, lines)) from None


def _interpolate(value: Any, env: Mapping[str, str], loc: tuple[str, ...], file: Path,
                 lines: Mapping[tuple[str, ...], int]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, env, (*loc, str(k)), file, lines) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env, (*loc, str(i)), file, lines) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        raise SpecError(f"environment variable ${{{name}}} is not set and has no default "
                        f"(write ${{{name}:-default}} to give one)", file=str(file),
                        field=".".join(loc), line=_line_for(loc, lines))

    return _VAR.sub(substitute, value)


def _spec_error(exc: ValidationError, file: Path, lines: Mapping[tuple[str, ...], int],
                data: Any) -> SpecError:
    problems = []
    first_loc: tuple[str, ...] = ()
    for err in exc.errors():
        # Drop pydantic's union-member tags (e.g. 'sql') so paths read like the YAML.
        loc = tuple(str(p) for p in err["loc"]
                    if p not in ("sql", "parquet", "generator", "[key]"))
        first_loc = first_loc or loc
        if err["type"] == "extra_forbidden":
            allowed = _allowed_fields(loc[:-1], data)
            msg = "unknown field" + (f"; expected one of: {', '.join(allowed)}" if allowed
                                     else "")
        elif err["type"] == "missing":
            msg = "required field is missing"
        else:
            msg = f"{err['msg']} (got {err.get('input')!r})"
        problems.append(f"'{'.'.join(loc) or '<top>'}': {msg}")
    message = problems[0].split(": ", 1)[1] if len(problems) == 1 else (
        f"{len(problems)} problems:\n  " + "\n  ".join(problems))
    return SpecError(message, file=str(file), field=".".join(first_loc) or None,
                     line=_line_for(first_loc, lines))


def _allowed_fields(loc: tuple[str, ...], data: Any) -> list[str]:
    """Field names of the spec model at ``loc`` (following the data through unions)."""
    model: Any = JourneySpec
    for part in loc:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        field_info = model.model_fields.get(part) if isinstance(model, type) and issubclass(
            model, BaseModel) else None
        if field_info is None:
            if part.isdigit() or model is not JourneySpec:
                continue  # list index or dict key: same model below
            return []
        candidates = _models_in(field_info.annotation)
        kind = data.get("kind") if isinstance(data, dict) else None
        matching = [m for m in candidates if kind is None or "kind" not in m.model_fields
                    or kind in get_args(m.model_fields["kind"].annotation)]
        if not matching:
            return []
        model = matching[0]
    return list(model.model_fields) if isinstance(model, type) and issubclass(
        model, BaseModel) else []


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]
