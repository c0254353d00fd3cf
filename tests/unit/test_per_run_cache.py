"""What a run reads again and again is read once per run: the golden set (downloaded and
verified at its first use) and the drift references, through ServedModels.per_run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from e2e_assets import golden
from e2e_assets.serving import ServedModels


def served() -> ServedModels:
    return ServedModels(SimpleNamespace(), "sqlite:///unused.db")  # type: ignore[arg-type]


def test_per_run_builds_once_per_key_and_instance() -> None:
    calls: list[str] = []
    run = served()
    for _ in range(3):
        assert run.per_run(("a",), lambda: calls.append("a") or 1) == 1
    run.per_run(("b",), lambda: calls.append("b") or 2)
    served().per_run(("a",), lambda: calls.append("a again") or 1)  # another run reads anew
    assert calls == ["a", "b", "a again"]


def test_a_failed_build_is_not_kept() -> None:
    run = served()

    def tampered() -> None:
        raise golden.GoldenTamperedError("TAMPERED")

    for _ in range(2):  # raised both times: an error is never served from the cache
        with pytest.raises(golden.GoldenTamperedError):
            run.per_run(("golden",), tampered)


def test_golden_of_downloads_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    monkeypatch.setattr(golden, "load_golden",
                        lambda uri, model: loads.append(model.version) or f"set v{model.version}")
    model = SimpleNamespace(name="m", version="3", run_id="r")
    run = served()
    assert [golden.golden_of(run, "u", model) for _ in range(4)] == ["set v3"] * 4  # type: ignore[arg-type]
    assert golden.golden_of(None, "u", model) == "set v3"  # type: ignore[arg-type]
    assert loads == ["3", "3"]
