"""A journey folder is self-contained: ``module: .stages`` names the stages.py beside the
journey file, a component's defs.yaml declares the same journey, and ``e2e-assets init`` /
the scaffolder write a working example without touching anything that exists."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from e2e_assets.errors import SpecError
from e2e_assets.scaffold import defs_yaml_text, init_project, journey_files, write_journey_files
from e2e_assets.spec import Journey, load_journey
from e2e_assets.spec.imports import FOLDER_PACKAGE_PREFIX

TYPE = "e2e_assets.JourneyComponent"
VARIABLES = {"E2E_DATABASE_URL": "sqlite:///journeys.db"}


def _load(path: Path) -> Journey:
    return load_journey(path, variables=VARIABLES)


def _example(folder: Path, name: str = "card_default") -> Path:
    write_journey_files(folder, name)
    return folder / "journey.yaml"


def test_relative_modules_load_from_the_journeys_own_folder(tmp_path: Path) -> None:
    journey = _load(_example(tmp_path / "a" / "card_default"))
    ingest, bootstrap = journey.functions["ingest"], journey.functions["bootstrap"]
    assert ingest.__module__.startswith(FOLDER_PACKAGE_PREFIX)
    assert ingest.__module__.endswith(".stages")
    assert Path(sys.modules[ingest.__module__].__file__ or "").parent == journey.folder
    # train.py imports its sibling with `from .stages import ...`: one module, not two copies
    assert bootstrap.__module__.endswith(".train")
    assert sys.modules[bootstrap.__module__].ingest is ingest


def test_two_journey_folders_never_share_a_module(tmp_path: Path) -> None:
    first = _load(_example(tmp_path / "one" / "card_default"))
    second = _load(_example(tmp_path / "two" / "card_default"))
    assert first.functions["score"].__module__ != second.functions["score"].__module__


def test_a_missing_relative_module_names_the_file_it_expected(tmp_path: Path) -> None:
    path = _example(tmp_path / "j")
    (tmp_path / "j" / "stages.py").unlink()
    with pytest.raises(SpecError) as caught:
        _load(path)
    assert caught.value.field == "module"
    assert caught.value.line == path.read_text().splitlines().index(
        next(line for line in path.read_text().splitlines() if line.startswith("module:"))) + 1
    assert str(tmp_path / "j" / "stages.py") in str(caught.value)


def test_a_defs_yaml_loads_as_the_same_journey_as_its_journey_yaml(tmp_path: Path) -> None:
    from_yaml = _load(_example(tmp_path / "card_default"))
    defs = tmp_path / "card_default" / "defs.yaml"
    defs.write_text(defs_yaml_text("card_default", TYPE))
    from_defs = _load(defs)
    assert from_defs.config_digest == from_yaml.config_digest
    assert from_defs.stages == from_yaml.stages
    assert {s: [c.name for c in cs] for s, cs in from_defs.checks.items()} == \
        {s: [c.name for c in cs] for s, cs in from_yaml.checks.items()}


def test_an_error_in_a_defs_yaml_points_at_its_line(tmp_path: Path) -> None:
    _example(tmp_path / "j")
    defs = tmp_path / "j" / "defs.yaml"
    text = defs_yaml_text("card_default", TYPE).replace("function: build_features",
                                                         "function: build_featurez")
    defs.write_text(text)
    with pytest.raises(SpecError) as caught:
        _load(defs)
    err = caught.value
    assert err.file == str(defs) and err.field == "stages.features.function"
    assert text.splitlines()[(err.line or 0) - 1].strip() == "function: build_featurez"
    assert "build_features" in str(err)  # what was expected


@pytest.mark.parametrize(("text", "expected"), [
    ("type: dagster.PythonScriptComponent\nattributes: {}\n",
     "expected type e2e_assets.JourneyComponent"),
    (f"type: {TYPE}\n", "expected 'attributes:'"),
    (f"type: {TYPE}\nattributes: [1, 2]\n", "expected 'attributes:'"),
])
def test_a_defs_yaml_of_another_kind_is_refused_by_name(tmp_path: Path, text: str,
                                                        expected: str) -> None:
    defs = tmp_path / "defs.yaml"
    defs.write_text(text)
    with pytest.raises(SpecError, match=expected):
        _load(defs)


def test_init_writes_a_project_renamed_after_the_journey(tmp_path: Path) -> None:
    written = init_project(tmp_path / "proj", "fraud_watch")
    relative = sorted(p.relative_to(tmp_path / "proj").as_posix() for p in written)
    assert relative == sorted([
        "README.md", "definitions.py", "workspace.yaml",
        "pipelines/fraud_watch/journey.yaml", "pipelines/fraud_watch/stages.py",
        "pipelines/fraud_watch/train.py",
        *(f"pipelines/fraud_watch/expectations/fraud_watch/{s}.json"
          for s in ("ingest", "features", "deliver"))])
    journey = _load(tmp_path / "proj" / "pipelines" / "fraud_watch" / "journey.yaml")
    assert journey.name == "fraud_watch"
    assert journey.spec.model is not None
    assert journey.spec.model.uri == "models:/fraud_watch@champion"
    assert "card_default" not in (tmp_path / "proj" / "README.md").read_text()


def test_init_never_overwrites_and_writes_nothing_when_it_would(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "pipelines" / "card_default").mkdir(parents=True)
    mine = project / "pipelines" / "card_default" / "stages.py"
    mine.write_text("# my own stages\n")
    with pytest.raises(SpecError, match="would overwrite 1 file"):
        init_project(project)
    assert mine.read_text() == "# my own stages\n"
    assert sorted(p.name for p in project.rglob("*") if p.is_file()) == ["stages.py"]


def test_init_into_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("x")
    with pytest.raises(SpecError, match="is a file; expected a folder"):
        init_project(target)


@pytest.mark.parametrize("name", ["Card", "9lives", "my-journey", ""])
def test_a_journey_name_must_be_an_identifier(name: str) -> None:
    with pytest.raises(SpecError, match="not an identifier"):
        journey_files(name)
