"""Make what a journey needs to run: its source data and a registered model with lineage.

A journey names a bootstrap function in its spec (``bootstrap.function``); it receives a
:class:`BootstrapContext` that writes the source and registers the model the same way for every
journey: signature and input example, training data and golden set logged as MLflow inputs and
artifacts with digests, the version tagged and given the spec's alias.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from e2e_assets.db import engine_for, masked
from e2e_assets.errors import (
    GateRefusedError,
    GoldenError,
    InfrastructureError,
    ModelResolutionError,
    SpecError,
    StageError,
)
from e2e_assets.frames import frame_digest, write_parquet_atomic
from e2e_assets.golden import (
    ARTIFACT_PATH,
    GOLDEN_CONTEXT,
    REQUESTS,
    dataset_digest,
    require_golden_size,
    write_golden,
)
from e2e_assets.handoff import file_lock
from e2e_assets.home import Home
from e2e_assets.model_registry import (
    GOLDEN_DIGEST_TAG,
    GOLDEN_MODELS_TAG,
    HOLDOUT_DIGEST_TAG,
    TRAINING_DIGEST_TAG,
    ResolvedModel,
    client_for,
    require_tracking_store,
    resolve_model,
    tracking,
)
from e2e_assets.sources import describe_source, parquet_path, read_source
from e2e_assets.spec.loader import Journey
from e2e_assets.spec.model import ParquetSource, SqlSource
from e2e_assets.stages import run_through

if TYPE_CHECKING:
    from e2e_assets.release.gate import Action, GateDecision
    from e2e_assets.serving import ServedModels


@dataclass(frozen=True)
class BootstrapContext:
    """What a journey's bootstrap function gets. It makes only what is missing: an existing
    source is kept and an existing alias is never moved, unless ``force`` is set.

    ``register_model`` registers a version without serving it: when the function returns, the
    versions it registered go through the promotion gate together, which alone moves the
    serving alias (``register_as`` set: that alias is moved at once, e.g. ``challenger``).
    """

    journey: Journey
    home: Home
    seed: int
    force: bool = False
    missing: frozenset[str] = frozenset()  # 'source' and/or the stages whose model is missing
    register_as: str | None = None
    registered: dict[str, str] = field(default_factory=dict)  # stage -> version, in order

    @property
    def needs_source(self) -> bool:
        return self.force or "source" in self.missing

    def needs_model(self, stage: str | None = None) -> bool:
        """Whether ``stage``'s model (default: the model of record) must be registered."""
        spec = self.journey.spec
        target = spec.model_for(stage) if stage is not None else spec.primary_model
        return self.force or any(spec.model_for(s) == target for s in self.missing
                                 if s != "source")

    def write_source(self, df: pd.DataFrame) -> str:
        """Replace the journey's source with ``df`` (one transaction / one rename); an existing
        source is kept unless forced."""
        if not self.needs_source:
            return f"kept the existing source ({describe_source(self.journey)})"
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
                       golden_requests: pd.DataFrame | None = None, stage: str | None = None,
                       holdout: pd.DataFrame | None = None,
                       params: dict[str, Any] | None = None,
                       metrics: dict[str, float] | None = None) -> ResolvedModel:
        """Log ``model`` to MLflow and register a new version of the model the spec gives
        ``stage`` (default: the journey's model of record), with its lineage.

        The model of record also gets the golden set: ``golden_requests`` (at least
        :data:`~e2e_assets.golden.MIN_GOLDEN_ROWS`, with the spec's label column when it has
        ``labels:``) through every stage, the other stages' models taken from the registry or
        from this bootstrap (register those first).

        ``holdout`` is raw requests the model was not trained on (1,000 rows or more where the
        data allows; the reference journeys log 1,337 and 3,000): drift checks with ``reference: holdout``
        compare a stage's outputs with what the journey makes of them, the model's out-of-sample
        outputs, rather than with training-set outputs that the model has already seen.
        """
        spec = self.journey.spec
        target = stage or spec.record_stage
        model_spec = spec.model_for(target) if target is not None else None
        if model_spec is None or target is None:
            raise InfrastructureError(f"journey '{spec.journey}' declares no model "
                                      + (f"on stage '{stage}'" if stage else "at all"))
        if not self.needs_model(stage) and self.register_as is None:
            return resolve_model(self.home.tracking_uri, model_spec.uri)  # never moved unforced
        is_record = model_spec == spec.primary_model
        if is_record and golden_requests is None:
            raise InfrastructureError("the model of record needs golden_requests for its "
                                      "golden set")
        with tracking(self.home.tracking_uri), warnings.catch_warnings():
            # MLflow hints that int columns cannot hold NaN; the training frame is logged as is.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer",
                                    category=UserWarning)
            # pandas 3 deprecates an operation MLflow's input-example code still uses.
            warnings.filterwarnings("ignore", message="Operation with range is deprecated",
                                    module="mlflow")
            version = self._register(model, model_spec, training=training,
                                     model_input=model_input, holdout=holdout,
                                     golden_requests=golden_requests if is_record else None,
                                     params=params, metrics=metrics)
        self.registered[target] = version
        if self.register_as is not None:
            client_for(self.home.tracking_uri).set_registered_model_alias(
                model_spec.name, self.register_as, version)
        return resolve_model(self.home.tracking_uri, model_spec.uri, version=version)

    def _held_out_input(self, model_spec: Any, model_input: pd.DataFrame,
                        holdout: pd.DataFrame | None) -> pd.DataFrame | None:
        """What the model would be given for the held-out requests: the journey up to its
        stage, the columns it was trained on; None without held-out requests."""
        if holdout is None:
            return None
        spec = self.journey.spec
        stage = next(s for s in spec.model_stages if spec.model_for(s) == model_spec)
        upstream = self.journey.upstream_of(stage)
        if upstream is None:
            frame = holdout
        else:
            models = self._served_so_far().all_loaded(until=upstream)
            frame = run_through(self.journey, holdout, models=models, until=upstream)[upstream]
        return frame[[c for c in model_input.columns if c in frame.columns]]

    def _served_so_far(self) -> ServedModels:
        """Every model stage's model: the version registered in this bootstrap (not gated
        yet), else the one served."""
        from e2e_assets.serving import ServedModels

        return ServedModels(self.journey, self.home.tracking_uri, pins=self.registered,
                            allow_unblessed=frozenset(self.registered))

    def _split_labels(self, requests: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The golden requests without the label column, and the labels (request id + label)."""
        labels = self.journey.spec.labels
        if labels is None:
            return requests, None
        if labels.column not in requests.columns:
            raise GoldenError(f"the golden requests lack the label column '{labels.column}' "
                              f"that the journey's labels.column names; pass them labelled")
        rid = self.journey.spec.request_id
        return requests.drop(columns=[labels.column]), requests[[rid, labels.column]].copy()

    def _golden_frames(self, model: Any, model_spec: Any, requests: pd.DataFrame
                       ) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
        """The golden frames, and which registered version each other model stage used."""
        served = self._served_so_far()
        spec = self.journey.spec
        others = [s for s in spec.model_stages if spec.model_for(s) != model_spec]
        models = {s: model if s not in others else served.model(s) for s in spec.model_stages}
        used = {}
        for stage in others:
            resolved = served.resolved(stage)
            if resolved is not None:
                used[stage] = f"{resolved.name}:{resolved.version}"
        return {REQUESTS: requests, **run_through(self.journey, requests, models=models)}, used

    def _register(self, model: Any, model_spec: Any, *, training: pd.DataFrame,
                  model_input: pd.DataFrame, golden_requests: pd.DataFrame | None,
                  holdout: pd.DataFrame | None, params: dict[str, Any] | None,
                  metrics: dict[str, float] | None) -> str:
        import mlflow
        from mlflow.models import infer_signature

        spec = self.journey.spec
        experiment_id = experiment_for(self.home, f"e2e-assets/{spec.journey}")
        predictions = _predict(model, model_input.head(200))
        signature = _nullable(infer_signature(model_input, predictions),
                              self._held_out_input(model_spec, model_input, holdout))
        labels = None
        if golden_requests is not None:
            require_golden_size(len(golden_requests), "the golden requests")
            golden_requests, labels = self._split_labels(golden_requests)
        golden, upstream = (self._golden_frames(model, model_spec, golden_requests)
                            if golden_requests is not None else (None, {}))
        training_digest = frame_digest(training)
        tags = {TRAINING_DIGEST_TAG: training_digest, "e2e.journey": spec.journey}
        if holdout is not None:
            tags[HOLDOUT_DIGEST_TAG] = frame_digest(holdout)
        if upstream:  # the other models the golden set went through, to tell a swap apart
            tags[GOLDEN_MODELS_TAG] = json.dumps(upstream, sort_keys=True)
        with mlflow.start_run(experiment_id=experiment_id,
                              run_name=f"bootstrap-{spec.journey}"):
            mlflow.log_params({"seed": self.seed, **(params or {})})
            if metrics:
                mlflow.log_metrics(metrics)
            mlflow.log_input(mlflow.data.from_pandas(  # type: ignore[attr-defined]
                training, name=f"{spec.journey}-training", digest=training_digest[7:23]),
                context="training")
            with tempfile.TemporaryDirectory() as tmp:
                write_parquet_atomic(training, Path(tmp) / "training.parquet")
                mlflow.log_artifact(str(Path(tmp) / "training.parquet"), artifact_path="data")
                if holdout is not None:
                    write_parquet_atomic(holdout, Path(tmp) / "holdout.parquet")
                    mlflow.log_artifact(str(Path(tmp) / "holdout.parquet"), artifact_path="data")
                if golden is not None and golden_requests is not None:
                    digest = write_golden(golden, Path(tmp) / "golden", labels=labels)
                    tags[GOLDEN_DIGEST_TAG] = digest
                    # the digest bound immutably to this run (its inputs cannot be edited)
                    mlflow.log_input(mlflow.data.from_pandas(  # type: ignore[attr-defined]
                        golden_requests, name=f"{spec.journey}-golden",
                        digest=dataset_digest(digest)), context=GOLDEN_CONTEXT)
                    mlflow.log_artifacts(str(Path(tmp) / "golden"), artifact_path=ARTIFACT_PATH)
            try:
                info = mlflow.sklearn.log_model(
                    model, name="model", signature=signature, input_example=model_input.head(5),
                    skops_trusted_types=list(model_spec.trusted_types) or None,
                    # named, so MLflow does not start a Python process per model to infer them
                    pip_requirements=mlflow.sklearn.get_default_pip_requirements(
                        include_skops=True))
            except mlflow.exceptions.MlflowException as exc:
                if "untrusted types" not in str(exc).lower():
                    raise
                found = str(exc).rsplit("Untrusted types found in the file:", 1)[-1].strip()
                raise SpecError(f"the model references types skops does not trust: "
                                f"{found.rstrip('.')}; review them and list them under the "
                                f"model's trusted_types", file=str(self.journey.path),
                                field="model.trusted_types") from None
        with contextlib.redirect_stderr(io.StringIO()):  # MLflow prints "Created version ..."
            mv = mlflow.register_model(info.model_uri, model_spec.name, tags=tags)
        return str(mv.version)


@dataclass(frozen=True)
class BootstrapResult:
    journey: str
    ran: bool
    reason: str
    registered: dict[str, str] = field(default_factory=dict)  # stage -> version, gated
    gate: str = ""  # the gate's decision on them, one line


def missing_parts(journey: Journey, home: Home) -> dict[str, str]:
    """What the journey lacks to run: ``{'source' or a model-serving stage: why}``."""
    missing: dict[str, str] = {}
    try:
        read_source(journey).head(0)
    except (InfrastructureError, StageError) as exc:
        missing["source"] = f"source missing ({exc})"
    try:
        require_tracking_store(home.tracking_uri)
    except InfrastructureError as exc:  # bootstrap creates it
        return {**missing, **{s: f"model missing ({exc})" for s in journey.spec.model_stages}}
    for stage in journey.spec.model_stages:
        model_spec = journey.spec.model_for(stage)
        if model_spec is None:  # model_stages lists only stages with a model
            continue
        try:
            resolve_model(home.tracking_uri, model_spec.uri)
        except ModelResolutionError as exc:
            missing[stage] = f"model missing ({exc})"
    return missing


def needs_bootstrap(journey: Journey, home: Home) -> str | None:
    """Why the journey cannot run yet (missing source or model), or None when it can."""
    missing = missing_parts(journey, home)
    return "; ".join(dict.fromkeys(missing.values())) or None


def bootstrap_journey(journey: Journey, home: Home, *, force: bool = False) -> BootstrapResult:
    """Make what ``journey`` lacks (everything with ``force``), under the journey's lock so that
    concurrent bootstraps do not register twice; journeys bootstrap side by side (``demo``)."""
    home.ensure()
    if journey.spec.model_stages:
        _ensure_tracking_store(home)
    with file_lock(home.root / f".bootstrap-{journey.name}.lock"):
        missing = missing_parts(journey, home)
        if not missing and not force:
            return BootstrapResult(journey.name, ran=False, reason="source and model present")
        reason = "forced" if force else "; ".join(dict.fromkeys(missing.values()))
        if journey.spec.bootstrap is None:
            raise InfrastructureError(f"journey '{journey.name}' cannot run: {reason}; and its "
                                      f"spec has no 'bootstrap:' function to make it")
        ctx = BootstrapContext(journey=journey, home=home, seed=journey.spec.seed, force=force,
                               missing=frozenset(missing))
        journey.functions["bootstrap"](ctx, **journey.spec.bootstrap.params)
        gate = ""
        if ctx.registered:  # only the gate moves the serving alias, even for a first model
            gate = _gate_or_raise(journey, home, ctx.registered, action="bootstrap").describe()
    return BootstrapResult(journey.name, ran=True, reason=reason,
                           registered=dict(ctx.registered), gate=gate.splitlines()[0] if gate
                           else "")


def _ensure_tracking_store(home: Home) -> None:
    """Create the home's MLflow store if it is missing, under the home's lock: two processes
    creating its schema at once would both run its migrations."""
    with file_lock(home.root / ".bootstrap.lock"):
        try:
            require_tracking_store(home.tracking_uri)
        except InfrastructureError as missing:
            import mlflow

            try:
                with tracking(home.tracking_uri):
                    mlflow.search_experiments(max_results=1)  # MLflow makes its tables
            except Exception as exc:  # unreachable, refused: said as before
                raise missing from exc


def _gate_or_raise(journey: Journey, home: Home, candidates: dict[str, str], *,
                   action: Action) -> GateDecision:
    from e2e_assets.release.gate import gate_candidates

    decision = gate_candidates(journey, home, candidates, action=action)
    if decision.verdict != "promoted":
        raise GateRefusedError(f"the promotion gate refused what the bootstrap of "
                               f"'{journey.name}' registered; nothing serves it. "
                               + decision.describe().replace("\n", " "))
    return decision


def experiment_for(home: Home, name: str) -> str:
    import mlflow

    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    location = (home.artifact_root / name.replace("/", "_")).as_uri()
    return str(mlflow.create_experiment(name, artifact_location=location))


def _nullable(signature: Any, held_out: pd.DataFrame | None) -> Any:
    """``signature`` with every input column that holds nulls in the held-out input marked
    optional: the training sample had none by chance (credit's ``marital`` on seed 2), the
    population has some, and the model handles them; a signature requiring it refused a clean
    batch with one null in 1,337 rows."""
    if held_out is None or signature.inputs is None:
        return signature
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    nullable = {str(c) for c in held_out.columns if held_out[c].isna().any()}
    if not nullable:
        return signature
    columns: list[ColSpec | TensorSpec] = [
        ColSpec(type=c.type, name=c.name, required=c.required and c.name not in nullable)
        for c in signature.inputs.inputs]
    return ModelSignature(inputs=Schema(columns), outputs=signature.outputs,
                          params=signature.params)


def _predict(model: Any, x: pd.DataFrame) -> Any:
    if hasattr(model, "predict_proba"):
        return model.predict_proba(x)[:, 1]
    return model.predict(x)
