"""Golden sets: fixed requests plus what the champion's journey made of them, stage by stage.

Written at registration as MLflow artifacts (``golden/<stage>.parquet`` + ``manifest.json``);
the manifest's sha256 is the golden digest, tagged on the model version. Loading verifies the
digest and every file's content digest: an edited or stale golden set fails loudly.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from e2e_assets.errors import GoldenError
from e2e_assets.frames import frame_digest, read_parquet_as_written, write_parquet_atomic
from e2e_assets.model_registry import GOLDEN_DIGEST_TAG, ResolvedModel, tracking

REQUESTS = "requests"  # the golden requests as they came from the source
ARTIFACT_PATH = "golden"


@dataclass(frozen=True)
class GoldenSet:
    """The golden requests and each stage's golden output, in stage order."""

    digest: str
    frames: Mapping[str, pd.DataFrame]
    model_version: str
    order: tuple[str, ...]  # 'requests', then the stages as they ran

    def input_for(self, stage: str) -> pd.DataFrame:
        """What ``stage`` received in the golden run (the first stage: the raw requests)."""
        if stage not in self.order:
            raise GoldenError(f"the golden set of v{self.model_version} has no output of stage "
                              f"'{stage}' (it has {list(self.order[1:])}); re-register the "
                              f"model after adding a stage")
        return self.frames[self.order[self.order.index(stage) - 1]]


def write_golden(frames: Mapping[str, pd.DataFrame], folder: Path) -> str:
    """One parquet per frame (``requests`` first, then each stage in order) plus a manifest of
    content digests; returns the golden digest."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in frames:
        write_parquet_atomic(frames[name], folder / f"{name}.parquet")
        files[name] = {"file": f"{name}.parquet", "rows": len(frames[name]),
                       "digest": frame_digest(frames[name])}
    manifest = json.dumps({"frames": files, "order": list(frames)}, sort_keys=True, indent=2)
    (folder / "manifest.json").write_text(manifest)
    return "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()


def load_golden(tracking_uri: str, model: ResolvedModel) -> GoldenSet:
    """Download and verify the golden set of ``model``'s version."""
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
        if found != expected:
            raise GoldenError(f"golden digest mismatch for {model.name} v{model.version}: "
                              f"registered {expected[:19]}..., artifact has {found[:19]}... "
                              f"(the golden set was edited or replaced)")
        document = json.loads(raw)
        manifest, order = document["frames"], tuple(document["order"])
        frames = {}
        for name in order:
            df = read_parquet_as_written(local / manifest[name]["file"])
            if frame_digest(df) != manifest[name]["digest"]:
                raise GoldenError(f"golden digest mismatch for {model.name} v{model.version}: "
                                  f"'{name}.parquet' content does not match its manifest digest")
            frames[name] = df
    return GoldenSet(digest=expected, frames=frames, model_version=model.version, order=order)
