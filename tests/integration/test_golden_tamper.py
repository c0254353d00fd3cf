"""golden_tamper: an edited golden artifact, and one replaced consistently (artifact, manifest
and registry tag rewritten together), are reported as TAMPERED (real MLflow, real CLI)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from e2e_assets.errors import GoldenTamperedError
from e2e_assets.faults import tamper_golden
from e2e_assets.frames import frame_digest
from e2e_assets.golden import MIN_GOLDEN_ROWS, load_golden
from e2e_assets.home import Home
from e2e_assets.model_registry import GOLDEN_DIGEST_TAG, client_for, resolve_model
from tests.conftest import _bootstrap, cli

pytestmark = pytest.mark.slow
CHAMPION = "models:/credit_approval@champion"


def golden_dir(root: Path) -> Path:
    (path,) = root.glob("mlartifacts/**/artifacts/golden")
    return path


def replace_consistently(root: Path, tracking_uri: str, version: str) -> None:
    """A "better" golden set: the first MIN_GOLDEN_ROWS requests only, in every frame and the
    labels, with the manifest's digests and the registry tag recomputed to match."""
    folder = golden_dir(root)
    manifest = json.loads((folder / "manifest.json").read_text())
    keep: set[str] = set()
    for name in [*manifest["order"], "labels"]:
        path = folder / manifest["frames"][name]["file"]
        frame = pd.read_parquet(path)
        keep = keep or set(frame["request_id"].head(MIN_GOLDEN_ROWS))
        frame = frame[frame["request_id"].isin(keep)].reset_index(drop=True)
        frame.to_parquet(path, index=False)
        manifest["frames"][name].update(rows=len(frame), digest=frame_digest(frame))
    text = json.dumps(manifest, sort_keys=True, indent=2)
    (folder / "manifest.json").write_text(text)
    client_for(tracking_uri).set_model_version_tag(
        "credit_approval", version, GOLDEN_DIGEST_TAG,
        "sha256:" + hashlib.sha256(text.encode()).hexdigest())


def test_golden_tampering_is_caught_even_when_consistent(tmp_path: Path) -> None:
    root = tmp_path / "home"
    _bootstrap(root, args=("credit_approval",))
    h = Home.from_env(str(root))
    model = resolve_model(h.tracking_uri, CHAMPION)
    clean = load_golden(h.tracking_uri, model)
    assert set(clean.frames) == {"requests", "ingest", "features", "score", "decide", "deliver"}
    assert len(clean.frames["score"]) == 500 and clean.labels is not None

    # 1. One value edited in one file: its content no longer matches the manifest.
    tamper_golden(golden_dir(root), "score")
    with pytest.raises(GoldenTamperedError, match="TAMPERED: golden digest mismatch: "
                                                  "'score.parquet'"):
        load_golden(h.tracking_uri, model)
    proc = cli("run", "credit_approval", home=root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "check 'golden' on stage 'features': golden set of credit_approval v1 TAMPERED: " \
        "golden digest mismatch" in proc.stdout

    # 2. The manifest rewritten too: it no longer matches the registered tag.
    manifest = golden_dir(root) / "manifest.json"
    data = json.loads(manifest.read_text())
    data["frames"]["score"]["rows"] = 501
    manifest.write_text(json.dumps(data))
    with pytest.raises(GoldenTamperedError, match="golden digest mismatch: registered sha256:"):
        load_golden(h.tracking_uri, model)

    # 3. Replaced consistently, the tag recomputed: the digest logged immutably as the
    #    registering run's golden dataset input still differs.
    replace_consistently(root, h.tracking_uri, model.version)
    model = resolve_model(h.tracking_uri, CHAMPION)
    with pytest.raises(GoldenTamperedError, match="TAMPERED.*consistent replacement"):
        load_golden(h.tracking_uri, model)
    proc = cli("run", "credit_approval", home=root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "consistent replacement" in proc.stdout
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAILED")]
    golden_failures = [line for line in failed if "golden" in line or "quality" in line]
    assert golden_failures and all("TAMPERED" in line for line in golden_failures), failed
