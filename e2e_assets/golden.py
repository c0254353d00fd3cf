"""Golden sets: fixed requests, their labels, and what the model's journey made of them.

Written at registration as MLflow artifacts (``golden/<stage>.parquet``, ``labels.parquet``,
``manifest.json``). The manifest's sha256 is the golden digest. It is bound to the model
version twice: as a tag (convenient, but mutable) and as the digest of the MLflow dataset
logged with ``log_input(context="golden")`` on the registering run (immutable: a run's inputs
cannot be edited). Loading checks the artifact against both, and every file against the
manifest; any difference is reported as tampering (:class:`GoldenTamperedError`), never as a
regression. A golden set has at least :data:`MIN_GOLDEN_ROWS` requests.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pandas as pd

from e2e_assets.errors import GoldenError, GoldenTamperedError
from e2e_assets.frames import frame_digest, read_parquet_as_written, write_parquet_atomic
from e2e_assets.model_registry import GOLDEN_DIGEST_TAG, ResolvedModel, tracking

REQUESTS = "requests"  # the golden requests as they came from the source
LABELS = "labels"  # request id + the label column, kept apart from the requests
ARTIFACT_PATH = "golden"
GOLDEN_CONTEXT = "golden"  # the MLflow dataset input context that binds the digest
MIN_GOLDEN_ROWS = 50  # fewer requests cannot judge a model; 0 or 1 would pass vacuously
# MLflow keeps at most 36 characters of a dataset digest: the first 32 hex digits of the sha256.
DATASET_DIGEST_CHARS = 32


def dataset_digest(golden_digest: str) -> str:
    """The MLflow dataset digest that binds ``golden_digest`` ('sha256:<hex>') to a run."""
    return golden_digest.removeprefix("sha256:")[:DATASET_DIGEST_CHARS]


def require_golden_size(rows: int, where: str) -> None:
    if rows < MIN_GOLDEN_ROWS:
        raise GoldenError(f"{where} has {rows} request{'s' if rows != 1 else ''}; a golden set "
                          f"needs at least {MIN_GOLDEN_ROWS} (fewer would pass vacuously)")


@dataclass(frozen=True)
class GoldenSet:
    """The golden requests and each stage's golden output, in stage order."""

    digest: str
    frames: Mapping[str, pd.DataFrame]
    model_version: str
    order: tuple[str, ...]  # 'requests', then the stages as they ran
    labels: pd.DataFrame | None = None  # request id + label column, if the journey has labels

    def input_for(self, stage: str) -> pd.DataFrame:
        """What ``stage`` received in the golden run (the first stage: the raw requests)."""
        if stage not in self.order:
            raise GoldenError(f"the golden set of v{self.model_version} has no output of stage "
                              f"'{stage}' (it has {list(self.order[1:])}); re-register the "
                              f"model after adding a stage")
        return self.frames[self.order[self.order.index(stage) - 1]]


def write_golden(frames: Mapping[str, pd.DataFrame], folder: Path,
                 labels: pd.DataFrame | None = None) -> str:
    """One parquet per frame (``requests`` first, then each stage in order), the labels, and a
    manifest of content digests; returns the golden digest."""
    require_golden_size(len(frames[REQUESTS]), "the golden requests")
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    named = {**frames, **({LABELS: labels} if labels is not None else {})}
    for name in named:
        write_parquet_atomic(named[name], folder / f"{name}.parquet")
        files[name] = {"file": f"{name}.parquet", "rows": len(named[name]),
                       "digest": frame_digest(named[name])}
    manifest = json.dumps({"frames": files, "order": list(frames)}, sort_keys=True, indent=2)
    (folder / "manifest.json").write_text(manifest)
    return "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()


def golden_of(served: Any, tracking_uri: str, model: ResolvedModel) -> GoldenSet:
    """``model``'s golden set, downloaded and verified once per run when the run's served
    models (``ServedModels``) are at hand, else now."""
    if served is None:
        return load_golden(tracking_uri, model)
    return cast(GoldenSet, served.per_run(
        ("golden", tracking_uri, model.name, model.version, model.run_id),
        lambda: load_golden(tracking_uri, model)))


def load_golden(tracking_uri: str, model: ResolvedModel) -> GoldenSet:
    """Download and verify the golden set of ``model``'s version (GoldenTamperedError if it
    differs from what was bound to the version at registration)."""
    expected = model.tag(GOLDEN_DIGEST_TAG)
    if not expected or not model.run_id:
        raise GoldenError(f"model {model.name} v{model.version} has no golden set (tag "
                          f"{GOLDEN_DIGEST_TAG} missing); register it with one")
    import mlflow

    with tempfile.TemporaryDirectory() as tmp, tracking(tracking_uri):
        try:
            local = Path(mlflow.artifacts.download_artifacts(
                run_id=model.run_id, artifact_path=ARTIFACT_PATH, dst_path=tmp))
        except Exception as exc:
            raise GoldenError(f"golden set of {model.name} v{model.version} cannot be read "
                              f"from run {model.run_id}: {exc}") from exc
        raw = (local / "manifest.json").read_bytes()
        found = "sha256:" + hashlib.sha256(raw).hexdigest()
        what = f"golden set of {model.name} v{model.version} TAMPERED"
        if found != expected:
            raise GoldenTamperedError(
                f"{what}: golden digest mismatch: registered {expected[:19]}..., artifact has "
                f"{found[:19]}... (the golden set was edited or replaced)")
        _check_bound_digest(tracking_uri, model, found, what)
        document = json.loads(raw)
        manifest, order = document["frames"], tuple(document["order"])
        frames = {}
        for name in (*order, *([LABELS] if LABELS in manifest else [])):
            df = read_parquet_as_written(local / manifest[name]["file"])
            if frame_digest(df) != manifest[name]["digest"]:
                raise GoldenTamperedError(f"{what}: golden digest mismatch: '{name}.parquet' "
                                          f"content does not match its manifest digest")
            frames[name] = df
    labels = frames.pop(LABELS, None)
    require_golden_size(len(frames[REQUESTS]),
                        f"the golden set of {model.name} v{model.version}")
    return GoldenSet(digest=expected, frames=frames, model_version=model.version, order=order,
                     labels=labels)


def _check_bound_digest(tracking_uri: str, model: ResolvedModel, found: str, what: str) -> None:
    """The artifact's digest must be the one logged as the registering run's golden dataset
    input: a run's inputs cannot be edited, so a consistent replacement (artifact, tag and
    manifest all rewritten) still differs here."""
    from e2e_assets.model_registry import client_for

    run = client_for(tracking_uri).get_run(model.run_id)
    bound = [d.dataset.digest for d in (run.inputs.dataset_inputs if run.inputs else [])
             if any(t.key == "mlflow.data.context" and t.value == GOLDEN_CONTEXT
                    for t in d.tags)]
    if not bound:
        raise GoldenTamperedError(f"{what}: its registering run {model.run_id} logged no golden "
                                  f"dataset input, so the digest is bound to nothing immutable")
    if len(bound) > 1:
        raise GoldenTamperedError(f"{what}: its registering run {model.run_id} has "
                                  f"{len(bound)} golden dataset inputs; one was added later")
    if bound[0] != dataset_digest(found):
        raise GoldenTamperedError(
            f"{what}: the artifact's digest {found[:19]}... differs from the golden dataset "
            f"digest {bound[0][:12]}... logged when v{model.version} was registered (a "
            f"consistent replacement: artifact, manifest and tag rewritten together)")
