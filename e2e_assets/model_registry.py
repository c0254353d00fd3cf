"""The MLflow side: resolve ``models:/<name>@<alias>``, load the model, read its lineage.

Aliases only (``champion``, ``challenger``); registry stages are deprecated and never used.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2e_assets.db import masked, reason, url_backend
from e2e_assets.errors import InfrastructureError, ModelResolutionError

# Aliases, never registry stages: models:/<name>@<alias>.
MODEL_URI = re.compile(r"^models:/(?P<name>[^@/\s]+)@(?P<alias>[A-Za-z0-9_-]+)$")
GOLDEN_DIGEST_TAG = "e2e.golden_digest"
GOLDEN_MODELS_TAG = "e2e.golden_models"  # {stage: "name:version"} of the other model stages
TRAINING_DIGEST_TAG = "e2e.training_digest"
HOLDOUT_DIGEST_TAG = "e2e.holdout_digest"  # of data/holdout.parquet: requests not trained on


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    alias: str
    version: str
    run_id: str | None
    source: str
    tags: tuple[tuple[str, str], ...] = ()  # the version's tags
    model_tags: tuple[tuple[str, str], ...] = ()  # the registered model's tags
    # every alias of the registered model -> its version, when this was resolved
    aliases: tuple[tuple[str, str], ...] = ()

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{self.alias}"

    @property
    def version_uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def tag(self, key: str) -> str | None:
        return dict(self.tags).get(key)

    def model_tag(self, key: str) -> str | None:
        return dict(self.model_tags).get(key)


def require_tracking_store(tracking_uri: str) -> None:
    """Refuse a tracking URI whose store does not exist, before MLflow would create it empty.

    Only ``bootstrap`` and ``demo`` create a store (through :func:`tracking`).
    """
    if tracking_uri in _EXISTING_STORES:
        return
    missing: str | None = None
    scheme = tracking_uri.split("://", 1)[0].split("+", 1)[0].lower() \
        if "://" in tracking_uri else ""
    if scheme and scheme not in _KNOWN_SCHEMES:
        raise InfrastructureError(
            f"no MLflow tracking store at {_shown(tracking_uri)}: unknown scheme '{scheme}', "
            f"expected one of {sorted(_KNOWN_SCHEMES)}; nothing was created. Fix "
            f"MLFLOW_TRACKING_URI, or unset it to use the home's store.")
    if tracking_uri.startswith("sqlite:"):
        from sqlalchemy.engine import make_url

        try:
            database = make_url(tracking_uri).database
        except Exception:  # noqa: BLE001 - 'sqlite:/x.db' and the like
            database = None
        if not database:
            missing = ("not a SQLite file URL: expected sqlite:///relative/path.db or "
                       "sqlite:////absolute/path.db")
        elif not Path(database).is_file():
            missing = f"the SQLite file {database} does not exist"
    elif tracking_uri.startswith("file:") or "://" not in tracking_uri:
        path = Path(tracking_uri.removeprefix("file://").removeprefix("file:"))
        if not path.is_dir():
            missing = f"the folder {path} does not exist"
    elif url_backend(tracking_uri) in _SQL_SCHEMES:
        missing = _missing_sql_store(tracking_uri)
    if missing is not None:
        raise InfrastructureError(
            f"no MLflow tracking store at {_shown(tracking_uri)} ({missing}); nothing was "
            f"created. Check MLFLOW_TRACKING_URI (or E2E_ASSETS_HOME), or create the store "
            f"with `e2e-assets bootstrap`.")
    _EXISTING_STORES.add(tracking_uri)


_EXISTING_STORES: set[str] = set()


def _shown(uri: str) -> str:
    """The URI for messages: a password, if any, hidden."""
    return masked(uri) if "@" in uri else uri
_SQL_SCHEMES = {"postgresql", "mysql", "mssql"}
_KNOWN_SCHEMES = {*_SQL_SCHEMES, "sqlite", "file", "http", "https", "databricks",
                  "databricks-uc", "uc"}


def _missing_sql_store(tracking_uri: str) -> str | None:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(tracking_uri)
        try:
            with engine.connect() as conn:
                has = sa.inspect(conn).has_table("registered_models")
        finally:
            engine.dispose()
    except Exception as exc:  # unreachable server, missing database, bad credentials
        raise InfrastructureError(f"cannot reach MLflow's database at {_shown(tracking_uri)}: "
                                  f"{reason(exc)}") from exc
    return None if has else "the database has no MLflow tables"


def client_for(tracking_uri: str) -> Any:
    require_tracking_store(tracking_uri)
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def resolve_model(tracking_uri: str, uri: str, alias: str | None = None, *,
                  version: str | None = None) -> ResolvedModel:
    """Resolve a model URI (optionally with another alias) to a concrete version; with
    ``version``, that version (the alias a run started with, pinned for the whole run)."""
    match = MODEL_URI.match(uri)
    if match is None:
        raise ModelResolutionError(f"expected 'models:/<name>@<alias>', got {uri!r}")
    name, alias = match.group("name"), alias or match.group("alias")
    client = client_for(tracking_uri)
    try:
        registered = client.get_registered_model(name)
    except Exception as exc:
        _raise_unreachable(exc, tracking_uri)
        raise ModelResolutionError(
            f"model '{name}' is not registered in MLflow at {_shown(tracking_uri)} "
            f"(`e2e-assets bootstrap` registers the models of journeys that declare a "
            f"bootstrap)") from exc
    registered_aliases = {str(a): str(v) for a, v in
                          (getattr(registered, "aliases", {}) or {}).items()}
    aliases = {**registered_aliases, **({alias: str(version)} if version is not None else {})}
    if alias not in aliases:
        known = ", ".join(f"{a} -> v{v}" for a, v in sorted(aliases.items())) or "none"
        raise ModelResolutionError(f"model '{name}' has no alias '{alias}' in MLflow at "
                                   f"{_shown(tracking_uri)}; its aliases: {known}")
    try:
        mv = client.get_model_version(name, str(aliases[alias]))
    except Exception as exc:
        _raise_unreachable(exc, tracking_uri)
        raise ModelResolutionError(f"model '{name}' has no version {aliases[alias]} in MLflow "
                                   f"at {_shown(tracking_uri)}") from exc
    return ResolvedModel(name=name, alias=alias, version=str(mv.version), run_id=mv.run_id,
                         source=str(mv.source), tags=tuple(sorted((mv.tags or {}).items())),
                         model_tags=tuple(sorted((registered.tags or {}).items())),
                         aliases=tuple(sorted(registered_aliases.items())))


@contextmanager
def tracking(tracking_uri: str) -> Iterator[None]:
    """Point MLflow's fluent API at ``tracking_uri`` for a block, then restore what was set.

    ``mlflow.set_tracking_uri`` also writes MLFLOW_TRACKING_URI to the environment, which would
    leak into everything that runs later in the process (and its subprocesses).
    """
    import mlflow

    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI",
                                             "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")}
    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"  # no tqdm bars in a library
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load_model(tracking_uri: str, resolved: ResolvedModel) -> Any:
    """Load the exact version resolved (not the alias again: it may have moved since)."""
    import mlflow

    try:
        with tracking(tracking_uri):
            flavors = mlflow.models.get_model_info(resolved.version_uri).flavors
            if "sklearn" in flavors:
                return mlflow.sklearn.load_model(resolved.version_uri)
            return mlflow.pyfunc.load_model(resolved.version_uri)
    except Exception as exc:
        raise InfrastructureError(f"cannot load model {resolved.version_uri} "
                                  f"({resolved.uri}): {exc}") from exc


def _raise_unreachable(exc: Exception, tracking_uri: str) -> None:
    if getattr(exc, "error_code", None) == "RESOURCE_DOES_NOT_EXIST":
        return
    text = str(exc)
    raise InfrastructureError(f"cannot reach MLflow at {_shown(tracking_uri)}: "
                              f"{text.splitlines()[0] if text else type(exc).__name__}") from exc


@dataclass(frozen=True)
class InputColumn:
    """One column of a model's MLflow input signature."""

    name: str
    type: str  # MLflow DataType name: double, long, integer, string, boolean, ...
    required: bool


def input_schema(tracking_uri: str, resolved: ResolvedModel) -> tuple[InputColumn, ...]:
    """The input signature logged with the exact model version ('' types if none logged)."""
    import mlflow

    with tracking(tracking_uri):
        info = mlflow.models.get_model_info(resolved.version_uri)
    if info.signature is None or info.signature.inputs is None:
        raise ModelResolutionError(f"{resolved.version_uri} was logged without a signature; "
                                   f"log it with one so its input contract can be checked")
    return tuple(InputColumn(name=str(col.name), type=str(getattr(col.type, "name", col.type)),
                             required=bool(getattr(col, "required", True)))
                 for col in info.signature.inputs.inputs)
