"""golden_tamper: an edited golden artifact fails with 'golden digest mismatch' (real MLflow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e2e_assets.errors import GoldenError
from e2e_assets.faults import tamper_golden
from e2e_assets.golden import load_golden
from e2e_assets.home import Home
from e2e_assets.model_registry import resolve_model
from tests.conftest import _bootstrap, cli

pytestmark = pytest.mark.slow


def golden_dir(root: Path) -> Path:
    (path,) = root.glob("mlartifacts/**/artifacts/golden")
    return path


def test_golden_tamper_is_caught(tmp_path: Path) -> None:
    root = tmp_path / "home"
    _bootstrap(root, args=("credit_approval",))
    h = Home.from_env(str(root))
    model = resolve_model(h.tracking_uri, "models:/credit_approval@champion")
    clean = load_golden(h.tracking_uri, model)
    assert set(clean.frames) == {"requests", "ingest", "features", "score", "decide", "deliver"}
    assert len(clean.frames["score"]) == 200

    tamper_golden(golden_dir(root), "score")
    with pytest.raises(GoldenError, match="golden digest mismatch.*'score.parquet'"):
        load_golden(h.tracking_uri, model)
    proc = cli("run", "credit_approval", home=root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "check 'golden' on stage 'features': golden digest mismatch" in proc.stdout

    manifest = golden_dir(root) / "manifest.json"  # a rewritten manifest: the registered digest
    data = json.loads(manifest.read_text())
    data["frames"]["score"]["rows"] = 201
    manifest.write_text(json.dumps(data))
    with pytest.raises(GoldenError, match="golden digest mismatch.*registered sha256:"):
        load_golden(h.tracking_uri, model)
