"""The README's minimal journey is a real, valid journey (docs that cannot rot silently)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import cli
from tests.helpers import REPO


def readme_example(tmp_path: Path) -> Path:
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```(yaml|python)\n(.*?)```", text, re.S)
    spec = next(b for kind, b in blocks if kind == "yaml" and "journey: churn_offer" in b)
    code = next(b for kind, b in blocks if kind == "python" and "def build_features" in b)
    folder = tmp_path / "pipelines" / "churn_offer"
    folder.mkdir(parents=True)
    (tmp_path / "pipelines" / "__init__.py").write_text("")
    (folder / "__init__.py").write_text("")
    (folder / "stages.py").write_text(code)
    (folder / "journey.yaml").write_text(spec)
    return folder / "journey.yaml"


def test_readme_journey_validates(tmp_path: Path) -> None:
    path = readme_example(tmp_path)
    proc = cli("validate", "pipelines/churn_offer/journey.yaml", "--offline",
               home=tmp_path / "home", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "valid journey 'churn_offer'" in proc.stdout
    path.write_text(path.read_text().replace("function: decide,", "function: decde,"))
    proc = cli("validate", "pipelines/churn_offer/journey.yaml", "--offline",
               home=tmp_path / "home", cwd=tmp_path)
    assert proc.returncode == 2
    assert "has no function 'decde'; expected one of ['build_features', 'decide', 'score']" in proc.stderr
