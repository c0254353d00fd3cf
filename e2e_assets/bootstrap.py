"""Make what a journey needs to run: its source data and a registered model with lineage.

A journey names a bootstrap function in its spec (``bootstrap.function``); it receives a
:class:`BootstrapContext` that writes the source and registers the model the same way for every
journey: signature and input example, training data and golden set logged as MLflow inputs and
artifacts with digests, the version tagged and given the spec's alias.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from e2e_assets.db import engine_for, masked
from e2e_assets.errors import E2EAssetsError, InfrastructureError, StageError
from e2e_assets.frames import frame_digest, write_parquet_atomic
from e2e_assets.golden import ARTIFACT_PATH, write_golden
from e2e_assets.home import Home
from e2e_assets.model_registry import (
    GOLDEN_DIGEST_TAG,
    TRAINING_DIGEST_TAG,
    ResolvedModel,
    resolve_model,
    tracking,
)
from e2e_assets.sources import parquet_path, read_source
from e2e_assets.spec import Journey
from e2e_assets.spec.model import ParquetSource, SqlSource
from e2e_assets.stages import run_through


@dataclass(frozen=True)
class BootstrapContext:
    journey: Journey
    home: Home
    seed: int

    def write_source(self, df: pd.DataFrame) -> str:
        """Replace the journey's source with ``df`` (one transaction / one rename)."""
        src = self.journey.spec.source
        if isinstance(src, SqlSource):
            if src.table is None:
                raise InfrastructureError("cannot bootstrap a query source; use 'table:'")
            with engine_for(src.url).begin() as conn:
                df.to_sql(src.table, conn, if_exists="replace", index=False, chunksize=2000)
            return f"{masked(src.url)} table {src.table}"
        if isinstance(src, ParquetSource):
            return str(write_parquet_atomic(df, parquet_path(self.journey, src)))
        return "generator (nothing to write)"

    def register_model(self, model: Any, *, training: pd.DataFrame, model_input: pd.DataFrame,
                       golden_requests: pd.DataFrame, params: dict[str, Any] | None = None,
                       metrics: dict[str, float] | None = None) -> ResolvedModel:
        """Log ``model`` to MLflow, register it under the spec's name and alias, with lineage."""
        with tracking(self.home.tracking_uri), warnings.catch_warnings():
            # MLflow hints that int columns cannot hold NaN; the training frame is logged as is.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer",
                                    category=UserWarning)
            return self._register(model, training=training, model_input=model_input,
                                  golden_requests=golden_requests, params=params,
                                  metrics=metrics)

    def _register(self, model: Any, *, training: pd.DataFrame, model_input: pd.DataFrame,
                  golden_requests: pd.DataFrame, params: dict[str, Any] | None,
                  metrics: dict[str, float] | None) -> ResolvedModel:
        import mlflow
        from mlflow.models import infer_signature

        spec = self.journey.spec
        experiment_id = _experiment(self.home, f"e2e-assets/{spec.journey}")
        predictions = _predict(model, model_input.head(200))
        signature = infer_signature(model_input, predictions)
        golden = {"requests": golden_requests,
                  **run_through(self.journey, golden_requests, model=model, until="deliver")}
        training_digest = frame_digest(training)
        with mlflow.start_run(experiment_id=experiment_id,
                              run_name=f"bootstrap-{spec.journey}"):
            mlflow.log_params({"seed": self.seed, **(params or {})})
            if metrics:
                mlflow.log_metrics(metrics)
            mlflow.log_input(mlflow.data.from_pandas(
                training, name=f"{spec.journey}-training", digest=training_digest[7:23]),
                context="training")
            mlflow.log_input(mlflow.data.from_pandas(
                golden_requests, name=f"{spec.journey}-golden",
                digest=frame_digest(golden_requests)[7:23]), context="golden")
            with tempfile.TemporaryDirectory() as tmp:
                write_parquet_atomic(training, Path(tmp) / "training.parquet")
                mlflow.log_artifact(str(Path(tmp) / "training.parquet"), artifact_path="data")
                golden_digest = write_golden(golden, Path(tmp) / "golden")
                mlflow.log_artifacts(str(Path(tmp) / "golden"), artifact_path=ARTIFACT_PATH)
            info = mlflow.sklearn.log_model(
                model, name="model", signature=signature, input_example=model_input.head(5),
                skops_trusted_types=list(spec.model.trusted_types) or None)
        mv = mlflow.register_model(info.model_uri, spec.model.name,
                                   tags={GOLDEN_DIGEST_TAG: golden_digest,
                                         TRAINING_DIGEST_TAG: training_digest,
                                         "e2e.journey": spec.journey})
        client = mlflow.MlflowClient()
        client.set_registered_model_alias(spec.model.name, spec.model.alias, mv.version)
        return resolve_model(self.home.tracking_uri, spec.model.uri)


@dataclass(frozen=True)
class BootstrapResult:
    journey: str
    ran: bool
    reason: str


def needs_bootstrap(journey: Journey, home: Home) -> str | None:
    """Why the journey cannot run yet (missing source or model), or None when it can."""
    try:
        read_source(journey).head(0)
    except (InfrastructureError, StageError) as exc:
        return f"source missing ({exc})"
    try:
        resolve_model(home.tracking_uri, journey.spec.model.uri)
    except E2EAssetsError as exc:
        return f"model missing ({exc})"
    return None


def bootstrap_journey(journey: Journey, home: Home, *, force: bool = False) -> BootstrapResult:
    reason = "forced" if force else needs_bootstrap(journey, home)
    if reason is None:
        return BootstrapResult(journey.name, ran=False, reason="source and model present")
    if journey.spec.bootstrap is None:
        raise InfrastructureError(f"journey '{journey.name}' cannot run: {reason}; and its "
                                  f"spec has no 'bootstrap:' function to make it")
    home.ensure()
    fn = journey.functions["bootstrap"]
    fn(BootstrapContext(journey=journey, home=home, seed=journey.spec.seed),
       **journey.spec.bootstrap.params)
    return BootstrapResult(journey.name, ran=True, reason=reason)


def _experiment(home: Home, name: str) -> str:
    import mlflow

    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    location = (home.artifact_root / name.replace("/", "_")).as_uri()
    return str(mlflow.create_experiment(name, artifact_location=location))


def _predict(model: Any, x: pd.DataFrame) -> Any:
    if hasattr(model, "predict_proba"):
        return model.predict_proba(x)[:, 1]
    return model.predict(x)
