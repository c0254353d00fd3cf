"""JourneyComponent: a journey declared in a dg project's defs.yaml builds, through the same
loader and factory, exactly what its journey.yaml and the Python API build."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster.components.testing import create_defs_folder_sandbox

from e2e_assets.home import Home
from e2e_assets.orchestration import JourneyComponent, build_journey_definitions
from e2e_assets.spec import JourneySpec, load_journey
from e2e_assets.spec.loader import journey_from_mapping
from tests.helpers import REPO

# Dagster marks its own component machinery (code references) as beta, and its resolver still
# calls pydantic's parse_obj_as.
pytestmark = pytest.mark.filterwarnings("ignore::dagster.BetaWarning",
                                        "ignore::dagster.PreviewWarning",
                                        "ignore:`parse_obj_as` is deprecated:DeprecationWarning")
REFERENCE = REPO / "pipelines" / "credit_approval" / "journey.yaml"


@pytest.fixture(autouse=True)
def _own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_ASSETS_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(REPO)  # the reference journey's suites live under the repository


def _keys(defs: dg.Definitions) -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    return {
        "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
        "checks": sorted(f"{k.asset_key.to_user_string()}:{k.name}"
                         for k in graph.asset_check_keys),
        "jobs": sorted(j.name for j in defs.jobs or ()),
        "schedules": sorted(s.name for s in defs.schedules or ()),
        "sensors": sorted(s.name for s in defs.sensors or ()),
    }


def _component_defs(attributes: dict[str, Any]) -> tuple[Any, dg.Definitions, Any]:
    with create_defs_folder_sandbox() as sandbox:
        folder = sandbox.defs_folder_path / attributes["journey"]
        folder.mkdir(parents=True)
        (folder / "defs.yaml").write_text(yaml.safe_dump(
            {"type": "e2e_assets.JourneyComponent", "attributes": attributes}, sort_keys=False))
        with sandbox.load_component_and_build_defs(defs_path=folder) as (component, defs):
            return component, defs, _keys(defs)


def test_the_reference_journey_is_the_same_from_journey_yaml_a_component_and_python() -> None:
    home = Home.from_env()
    attributes = yaml.safe_load(REFERENCE.read_text())
    from_yaml = _keys(build_journey_definitions(
        load_journey(REFERENCE, variables=home.variables()), home=home))
    component, _, from_component = _component_defs(attributes)
    from_python = _keys(build_journey_definitions(journey_from_mapping(
        attributes, file=REFERENCE, variables=home.variables()), home=home))
    assert isinstance(component, JourneyComponent)
    assert from_component == from_yaml == from_python
    # and it is the whole journey, not an empty match
    assert len(from_yaml["assets"]) == 5 and len(from_yaml["checks"]) >= 30
    assert "credit_approval/score:signature_contract" in from_yaml["checks"]
    assert "credit_approval_journey" in from_yaml["jobs"]


def test_the_scaffold_writes_a_journey_that_builds() -> None:
    with create_defs_folder_sandbox() as sandbox:
        folder = sandbox.scaffold_component(component_cls=JourneyComponent,
                                            defs_path="card_watch")
        written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                         if p.is_file() and "__pycache__" not in p.parts)
        assert written == ["defs.yaml", "expectations/card_watch/deliver.json",
                           "expectations/card_watch/features.json",
                           "expectations/card_watch/ingest.json", "stages.py", "train.py"]
        defs_yaml = yaml.safe_load((folder / "defs.yaml").read_text())
        assert defs_yaml["type"] == "e2e_assets.JourneyComponent"
        assert defs_yaml["attributes"]["journey"] == "card_watch"
        stages = (folder / "stages.py").read_text()
        for name in ("ingest", "build_features", "score", "decide", "deliver"):
            assert f"def {name}(" in stages
        with sandbox.load_component_and_build_defs(defs_path=folder) as (_, defs):
            keys = _keys(defs)
            # the stage functions were imported from the component's own package
            package = f"{sandbox.project_name}.defs.card_watch"
            assert f"{package}.stages" in sys.modules and f"{package}.train" in sys.modules
    assert keys["assets"] == [f"card_watch/{s}" for s in
                              ("decide", "deliver", "features", "ingest", "score")]
    assert "card_watch/deliver:reconcile" in keys["checks"]


def test_two_journey_components_load_into_one_code_location() -> None:
    # Each component brings the home's resources; Dagster refuses two different objects under
    # one key, so they must be the very same ones.
    with create_defs_folder_sandbox() as sandbox:
        for name in ("cards_east", "cards_west"):
            sandbox.scaffold_component(component_cls=JourneyComponent, defs_path=name)
        with sandbox.build_all_defs() as defs:
            keys = _keys(defs)
    assert {a.split("/")[0] for a in keys["assets"]} == {"cards_east", "cards_west"}
    assert sorted(defs.resources or {}) == ["e2e_release", "e2e_store", "mlflow"]


def test_a_bad_attribute_names_the_defs_yaml_and_the_field() -> None:
    attributes = yaml.safe_load(REFERENCE.read_text())
    attributes["stages"]["decide"]["function"] = "decidee"
    with pytest.raises(Exception) as caught:
        _component_defs(attributes)
    text = "".join(str(e) for e in _chain(caught.value))
    line = yaml.safe_dump({"type": "e2e_assets.JourneyComponent", "attributes": attributes},
                          sort_keys=False).splitlines().index("      function: decidee") + 1
    assert f"defs.yaml:{line} at 'stages.decide.function'" in text
    assert "has no function 'decidee'" in text and "'decide'" in text


def test_a_wrong_type_is_refused_before_build_by_the_schema() -> None:
    attributes = yaml.safe_load(REFERENCE.read_text())
    attributes["stages"]["score"]["fallback"]["retries"] = "many"
    with pytest.raises(Exception) as caught:
        _component_defs(attributes)
    text = "".join(str(e) for e in _chain(caught.value))
    assert "retries" in text


def test_the_component_schema_has_every_journey_field_and_the_spec_constraints() -> None:
    assert list(JourneyComponent.model_fields) == list(JourneySpec.model_fields)
    schema = JourneyComponent.model().model_json_schema()
    assert set(schema["properties"]) == set(JourneySpec.model_fields)
    assert {"journey", "module", "source", "stages", "sink"} <= set(schema["required"])
    fallback = schema["$defs"]["FallbackSpec"]["properties"]
    assert fallback["max_fallback_share"]["maximum"] == 1.0  # the spec's own bounds
    assert JourneyComponent.__doc__ and "asset checks" in JourneyComponent.__doc__


def _chain(exc: BaseException | None) -> list[BaseException]:
    out = []
    while exc is not None and exc not in out:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def test_a_partitioned_journey_keeps_its_daily_partitions_as_a_component() -> None:
    attributes = yaml.safe_load((REPO / "tests" / "journeys" / "daily_credit" /
                                 "journey.yaml").read_text())
    _, defs, keys = _component_defs(attributes)
    score = defs.resolve_assets_def(dg.AssetKey(["daily_credit", "score"]))
    assert isinstance(score.partitions_def, dg.DailyPartitionsDefinition)
    assert score.partitions_def.start.date().isoformat() == "2026-01-01"
    assert "daily_credit/score:score_drift" in keys["checks"]
