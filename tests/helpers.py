"""Helpers shared by the tests: variants of the reference journeys."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def journey_variant(tmp_path: Path, name: str = "credit_approval", *,
                    replace: dict[str, str] | None = None, append: str = "") -> Path:
    """Copy a reference journey.yaml with text replacements; returns the new file's path."""
    text = (REPO / "pipelines" / name / "journey.yaml").read_text()
    for old, new in (replace or {}).items():
        assert old in text, f"{old!r} not in {name}/journey.yaml"
        text = text.replace(old, new)
    folder = tmp_path / f"{name}_variant"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "journey.yaml"
    path.write_text(text + append)
    return path


def journey_with_checks(tmp_path: Path, checks_yaml: str, name: str = "credit_approval") -> Path:
    """A reference journey with its ``checks:`` section replaced by ``checks_yaml``."""
    text = (REPO / "pipelines" / name / "journey.yaml").read_text()
    head = text[: text.index("\nchecks:")]
    folder = tmp_path / f"{name}_checks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "journey.yaml"
    path.write_text(head + "\nchecks:\n" + checks_yaml)
    return path


def own_experiments(home: Path) -> None:
    """Make new MLflow runs in a copied home write their artifacts into that home.

    The ``home`` fixture copies the registry of the session's base home; its experiments keep
    the base home's artifact location. Renaming them makes e2e-assets create fresh ones here.
    """
    from e2e_assets.home import Home
    from e2e_assets.model_registry import client_for

    client = client_for(Home.from_env(str(home)).tracking_uri)
    for experiment in client.search_experiments():
        if experiment.name.startswith("e2e-assets/"):
            client.rename_experiment(experiment.experiment_id, f"{experiment.name} (base)")


def empty_shadow(database_url: str, table: str) -> str:
    """Drop ``table``'s shadow copy (the bootstrap's gate runs filled it), so that a drill's
    test counts only what the drill delivered there; returns the shadow table's name."""
    import sqlalchemy as sa

    from e2e_assets.sinks import shadow_table

    shadow = shadow_table(table)
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{shadow}"'))
    finally:
        engine.dispose()
    return shadow
