"""Runs never mix: concurrent runs, killed runs and concurrent first starts of a home.

Every test here runs real ``e2e-assets`` processes against a private copy of the bootstrapped
home, and reads back what they left: the per-run hand-off folders, ``latest.json``, the sink
table and the Dagster instance. The last tests are pure: the stage store fails closed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from e2e_assets.errors import HandoffError
from e2e_assets.frames import frame_digest
from e2e_assets.handoff import RunStore
from e2e_assets.home import Home
from tests.conftest import REPO, cli

CREDIT_STAGES = ("ingest", "features", "score", "decide", "deliver")
# Repetitions of the champion/challenger race (each starts two real runs at once).
RACE_TRIALS = int(os.environ.get("E2E_ISOLATION_TRIALS", "5"))
# Fresh-home concurrent starts (each starts four real runs at once, then a fifth).
FRESH_TRIALS = int(os.environ.get("E2E_ISOLATION_FRESH_TRIALS", "1"))

_LEAN_CHECKS = {  # cheap checks: these tests are about isolation, not about the checks
    "credit_approval": """\
  decide:
    - kind: rules
      name: credit_policy
      options:
        rules:
          - {name: decision_known, expr: "decision in ['approve', 'review', 'decline']"}
  deliver:
    - kind: reconcile
""",
    "loan_pricing": """\
  decide:
    - kind: rules
      name: pricing_policy
      options:
        rules:
          - {name: decision_known, expr: "decision in ['offer', 'refer']"}
  deliver:
    - kind: reconcile
""",
}


# -- helpers ---------------------------------------------------------------------------------
def _lean_variant(folder: Path, name: str, replace: dict[str, str] | None = None) -> Path:
    """A reference journey with cheap checks only (and text replacements), under ``folder``."""
    text = (REPO / "pipelines" / name / "journey.yaml").read_text()
    text = text[: text.index("\nchecks:")] + "\nchecks:\n" + _LEAN_CHECKS[name]
    for old, new in (replace or {}).items():
        assert text.count(old) == 1, f"{old!r} not exactly once in {name}/journey.yaml"
        text = text.replace(old, new)
    path = folder / name / "journey.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _start(*args: str, home: Path) -> subprocess.Popen[str]:
    """Start the real ``e2e-assets`` console script (like ``cli``) without waiting for it."""
    exe = Path(sys.executable).with_name("e2e-assets")
    env = {**os.environ, "E2E_ASSETS_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    return subprocess.Popen([str(exe), *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(procs: list[subprocess.Popen[str]], timeout: float = 240
            ) -> list[tuple[int, str]]:
    """Wait for every process; (exit code, stdout + stderr) each."""
    done = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
        done.append((proc.returncode, out + err))
    return done


def _report(path: Path) -> dict:
    runs = json.loads(path.read_text())["runs"]
    assert len(runs) == 1
    return runs[0]


def _latest(home: Path, journey: str) -> dict[str, str]:
    return json.loads((home / "storage" / journey / "latest.json").read_text())["stages"]


def _run_dir(home: Path, journey: str, run_id: str) -> Path:
    return home / "storage" / journey / "runs" / run_id


def _sink(home: Path, table: str) -> pd.DataFrame:
    import sqlalchemy as sa

    engine = sa.create_engine(Home.from_env(str(home)).database_url)
    try:
        with engine.connect() as conn:
            frame = pd.read_sql_table(table, conn)
    finally:
        engine.dispose()
    return frame.sort_values("request_id").reset_index(drop=True)


def _delivered(home: Path, journey: str, run_id: str) -> pd.DataFrame:
    frame = pd.read_parquet(_run_dir(home, journey, run_id) / "deliver.parquet")
    return frame.sort_values("request_id").reset_index(drop=True)


def _same_rows(sink: pd.DataFrame, delivered: pd.DataFrame) -> bool:
    """The sink holds exactly ``delivered`` (same request ids, every value equal)."""
    if list(sink["request_id"]) != list(delivered["request_id"]):
        return False
    return all(np.array_equal(sink[c].to_numpy(), delivered[c].to_numpy())
               for c in delivered.columns)


def _assert_own_lineage(home: Path, journey: str, run_id: str, stages: tuple[str, ...]) -> None:
    """Every stage record of ``run_id`` says it read its upstream from ``run_id`` itself, with
    the digest the upstream's record holds; and every stored frame has its recorded digest."""
    folder = _run_dir(home, journey, run_id)
    records = {s: json.loads((folder / f"{s}.json").read_text()) for s in stages}
    for i, stage in enumerate(stages):
        record = records[stage]
        assert record["ref"]["run_id"] == run_id, (stage, record)
        frame = pd.read_parquet(folder / f"{stage}.parquet")
        assert frame_digest(frame) == record["ref"]["data_digest"], stage
        if i == 0:
            assert record["input"] is None, record
        else:
            upstream = records[stages[i - 1]]["ref"]
            assert record["input"] == upstream, (stage, record["input"], upstream)


def _dagster_instance(home: Path):
    import dagster as dg

    return dg.DagsterInstance.from_config(str(home / "dagster"))


def _materialized(instance, run_id: str) -> dict[str, dict]:
    """stage -> the metadata of its materialization in journey run ``run_id`` (its Dagster
    runs, one per stage, share the tag ``e2e/journey_run``)."""
    import dagster as dg

    out = {}
    for run in _dagster_runs(instance, run_id):
        for entry in instance.all_logs(run.run_id,
                                       of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
            mat = entry.asset_materialization
            out[mat.asset_key.path[-1]] = {k: getattr(v, "value", v)
                                           for k, v in mat.metadata.items()}
    return out


def _dagster_runs(instance, journey_run: str) -> list:
    """The Dagster runs of one journey run, oldest first."""
    import dagster as dg

    runs = instance.get_runs(filters=dg.RunsFilter(tags={"e2e/journey_run": journey_run}))
    return sorted(runs, key=lambda r: instance.get_run_record_by_id(r.run_id).create_timestamp)


# -- 1. champion and challenger at the same moment -------------------------------------------
def _challenger_model(seed: int):
    """Another credit model: same features, other hyper-parameters and seed."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    from pipelines.credit_approval.stages import CATEGORICAL

    encode = ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                encoded_missing_value=-1), CATEGORICAL)],
        remainder="passthrough", verbose_feature_names_out=False)
    model = HistGradientBoostingClassifier(max_iter=80, learning_rate=0.1, max_depth=4,
                                           l2_regularization=1.0, random_state=seed + 1000)
    return Pipeline([("encode", encode), ("model", model)])


def _register_challenger(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Register credit_approval v2 (another model) as ``challenger``; v1 stays ``champion``.

    The journey's own bootstrap trains and registers it (lineage, golden set, signature), with
    only the model factory swapped. Its artifacts go to this home, not the shared base home.
    """
    import mlflow

    from e2e_assets.bootstrap import BootstrapContext
    from e2e_assets.spec import load_journey
    from pipelines.credit_approval import train

    h = Home.from_env(str(home))
    journey = load_journey(REPO / "pipelines" / "credit_approval" / "journey.yaml",
                           variables=h.variables())
    client = mlflow.MlflowClient(tracking_uri=h.tracking_uri, registry_uri=h.tracking_uri)
    experiment = client.get_experiment_by_name("e2e-assets/credit_approval")
    assert experiment is not None
    # Its artifact location is the base home's: a new experiment of that name writes here.
    client.rename_experiment(experiment.experiment_id, "e2e-assets/credit_approval (base)")
    monkeypatch.setattr(train, "make_model", _challenger_model)
    ctx = BootstrapContext(journey=journey, home=h, seed=journey.spec.seed,
                           missing=frozenset(journey.spec.model_stages))  # model only
    assert not ctx.needs_source
    with warnings.catch_warnings():
        # MLflow's input-example code compares an index with a range (pandas deprecates it);
        # the CLI's bootstrap sees the same warning, outside pytest's warnings-as-errors.
        warnings.filterwarnings("ignore", message="Operation with range is deprecated")
        train.bootstrap(ctx, **journey.spec.bootstrap.params)
    assert ctx.registered == {"score": "2"}  # registered, not served: only the gate moves it
    assert str(client.get_model_version_by_alias("credit_approval", "champion").version) == "1"
    client.set_registered_model_alias("credit_approval", "challenger", "2")


def _expected_scores(home: Path) -> dict[str, pd.Series]:
    """version -> P(default) per request id, computed here from the source and the registry."""
    import mlflow
    import sqlalchemy as sa

    from e2e_assets.model_registry import tracking
    from pipelines.credit_approval.stages import FEATURES, build_features, ingest

    h = Home.from_env(str(home))
    engine = sa.create_engine(h.database_url)
    try:
        with engine.connect() as conn:
            source = pd.read_sql_table("credit_applications", conn)
    finally:
        engine.dispose()
    features = build_features(ingest(source))
    scores = {}
    with tracking(h.tracking_uri):  # sets the URIs, and restores the environment afterwards
        for version in ("1", "2"):
            model = mlflow.sklearn.load_model(f"models:/credit_approval/{version}")
            scores[version] = pd.Series(model.predict_proba(features[FEATURES])[:, 1],
                                        index=features["request_id"].to_numpy(),
                                        name=f"v{version}")
    return scores


@pytest.mark.slow
def test_champion_and_challenger_started_together_never_mix(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _register_challenger(home, monkeypatch)
    expected = _expected_scores(home)
    differ = (expected["1"] - expected["2"]).abs() > 1e-6
    assert differ.mean() > 0.9, "the two versions must score most requests differently"
    want = {"champion": "1", "challenger": "2"}
    journey = str(_lean_variant(tmp_path, "credit_approval"))  # same stages, cheap checks

    for trial in range(RACE_TRIALS):
        reports = {alias: tmp_path / f"trial{trial}-{alias}.json" for alias in want}
        procs = [_start("run", journey, "--report", str(reports["champion"]), home=home),
                 _start("run", journey, "--alias", "challenger", "--allow-unblessed",
                        "--report", str(reports["challenger"]), home=home)]
        for (code, output), alias in zip(_finish(procs), want, strict=True):
            assert code == 0, f"trial {trial} {alias}: exit {code}\n{output[-3000:]}"

        run_ids, delivered = {}, {}
        for alias, version in want.items():
            report = _report(reports[alias])
            assert report["status"] == "passed", report
            assert report["model"]["version"] == version, (alias, report["model"])
            assert report["model"]["alias"] == alias, report["model"]
            run_id = run_ids[alias] = report["run_id"]
            _assert_own_lineage(home, "credit_approval", run_id, CREDIT_STAGES)
            out = delivered[alias] = _delivered(home, "credit_approval", run_id)
            assert sorted(out["request_id"]) == sorted(expected[version].index)
            mine = expected[version].loc[out["request_id"]].to_numpy()
            other = expected["1" if version == "2" else "2"].loc[out["request_id"]].to_numpy()
            # p_default of every delivered row is what THIS run's version predicts ...
            np.testing.assert_array_equal(out["p_default"].to_numpy(), mine,
                                          err_msg=f"trial {trial}: {alias} run {run_id} "
                                                  f"delivered another model's scores")
            # ... which the other version does not, for most rows.
            assert (np.abs(out["p_default"].to_numpy() - other) > 1e-6).mean() > 0.9
        assert run_ids["champion"] != run_ids["challenger"]

        # The provenance Dagster recorded for each run's delivery names its own version and the
        # digest of exactly the rows that run handed on.
        instance = _dagster_instance(home)
        try:
            for alias, version in want.items():
                meta = _materialized(instance, run_ids[alias])
                assert set(meta) == set(CREDIT_STAGES), meta.keys()
                record = json.loads((_run_dir(home, "credit_approval", run_ids[alias])
                                     / "deliver.json").read_text())
                for stage in ("score", "decide", "deliver"):
                    assert meta[stage]["model_version"] == version, (alias, stage)
                    assert meta[stage]["model_alias"] == alias, (alias, stage)
                    assert meta[stage].get("journey_run_id", meta[stage]["dagster_run_id"]) \
                        == run_ids[alias]
                assert meta["deliver"]["data_digest"] == record["ref"]["data_digest"]
            # The two runs did run at the same time (else this trial proves nothing).
            spans = []
            for alias in want:  # from its first stage's start to its last stage's end
                records = [instance.get_run_record_by_id(r.run_id)
                           for r in _dagster_runs(instance, run_ids[alias])]
                spans.append((min(r.start_time for r in records),
                              max(r.end_time for r in records)))
            (a_start, a_end), (b_start, b_end) = spans
            assert a_start < b_end and b_start < a_end, (
                f"trial {trial}: the runs did not overlap")
        finally:
            instance.dispose()

        # latest: one whole chain, from one of the two runs.
        latest = _latest(home, "credit_approval")
        assert set(latest) == set(CREDIT_STAGES), latest
        assert len(set(latest.values())) == 1, f"trial {trial}: latest mixes runs: {latest}"
        assert set(latest.values()) <= set(run_ids.values()), latest

        # The sink: the last writer's rows, all of them, never a mix of the two.
        sink = _sink(home, "credit_decisions")
        matches = [a for a in want if _same_rows(sink, delivered[a])]
        assert len(matches) == 1, (f"trial {trial}: the sink matches {matches} of the two runs' "
                                   f"deliveries (expected exactly one)")


# -- 2. kill -9 during deliver ---------------------------------------------------------------
@pytest.mark.slow
def test_run_killed_during_deliver_is_closed_and_leaves_nothing(home: Path,
                                                                tmp_path: Path) -> None:
    marker = tmp_path / "deliver-started"
    normal = _lean_variant(tmp_path / "normal", "credit_approval")
    slow = _lean_variant(tmp_path / "slow", "credit_approval", replace={
        "    function: deliver\n":
            "    function: 'tests.journeys.slow_stages:deliver_slowly'\n"
            f"    params: {{marker: '{marker}', sleep_s: 300}}\n"})

    # A committed run first: its rows are in the sink, its chain is latest.
    first = cli("run", str(normal), "--report", str(tmp_path / "first.json"), home=home)
    assert first.returncode == 0, first.stdout + first.stderr
    first_id = _report(tmp_path / "first.json")["run_id"]
    committed = _sink(home, "credit_decisions")
    assert _same_rows(committed, _delivered(home, "credit_approval", first_id))

    proc = _start("run", str(slow), home=home)
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            assert proc.poll() is None, "the slow run ended before deliver:\n" + "".join(
                proc.communicate())[-3000:]
            assert time.monotonic() < deadline, "the slow run never reached deliver"
            time.sleep(0.1)
        assert int(marker.read_text()) == proc.pid
        os.kill(proc.pid, signal.SIGKILL)
        # Not reaped until the end: like a process whose parent has not waited for it yet,
        # it stays a zombie (its pid still answers kill(pid, 0)), and it runs no more.
        _wait_for_zombie(proc.pid)
        _after_kill(home, tmp_path, proc.pid, normal, committed)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def _wait_for_zombie(pid: int) -> None:
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, f"process {pid} did not die"
        time.sleep(0.05)


def _after_kill(home: Path, tmp_path: Path, pid: int, normal: Path,
                committed: pd.DataFrame) -> None:
    import dagster as dg

    from e2e_assets.orchestration.instance import PID_TAG
    from tests.journeys.slow_stages import KILLED_POLICY

    # What kill -9 leaves: a STARTED run, and its stages up to decide in its own folder.
    instance = _dagster_instance(home)
    try:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={PID_TAG: str(pid)}))
        # one Dagster run per stage: ingest..decide finished, deliver's was killed
        assert sorted(r.status.value for r in runs) == ["STARTED"] + ["SUCCESS"] * 4, runs
        killed = next(r for r in runs if r.status == dg.DagsterRunStatus.STARTED)
        killed_step, killed_id = killed.run_id, killed.tags["e2e/journey_run"]
    finally:
        instance.dispose()
    killed_dir = _run_dir(home, "credit_approval", killed_id)
    assert (killed_dir / "decide.json").is_file() and not (killed_dir / "deliver.json").exists()
    latest = _latest(home, "credit_approval")
    assert len(set(latest.values())) == 1, f"latest mixes runs after the kill: {latest}"
    sink = _sink(home, "credit_decisions")
    assert _same_rows(sink, committed), "the killed run changed the sink"

    # The next start closes the killed run and discards its hand-off.
    third = cli("run", str(normal), "--report", str(tmp_path / "third.json"), home=home)
    assert third.returncode == 0, third.stdout + third.stderr
    third_id = _report(tmp_path / "third.json")["run_id"]

    instance = _dagster_instance(home)
    try:
        run = instance.get_run_by_id(killed_step)
        assert run is not None and run.status == dg.DagsterRunStatus.FAILURE, run
        failures = instance.all_logs(killed_step, of_type=dg.DagsterEventType.RUN_FAILURE)
        assert len(failures) == 1, failures
        message = failures[0].dagster_event.message or failures[0].user_message
        assert f"pid {pid}" in message and "killed" in message, message
        assert {r.status for r in _dagster_runs(instance, third_id)} == {
            dg.DagsterRunStatus.SUCCESS}
    finally:
        instance.dispose()

    assert not killed_dir.exists(), f"the killed run's hand-off is still there: {killed_dir}"
    assert _latest(home, "credit_approval") == {s: third_id for s in CREDIT_STAGES}
    _assert_own_lineage(home, "credit_approval", third_id, CREDIT_STAGES)
    sink = _sink(home, "credit_decisions")
    assert _same_rows(sink, _delivered(home, "credit_approval", third_id))
    assert _same_rows(sink, committed)  # same model, same source: what run 1 committed
    assert KILLED_POLICY not in set(sink["policy_version"])


# -- 3. concurrent first starts of a fresh home ----------------------------------------------
@pytest.mark.slow
def test_concurrent_first_runs_in_a_fresh_home(home: Path, tmp_path: Path) -> None:
    import dagster as dg

    journeys = [_lean_variant(tmp_path, "credit_approval"),
                _lean_variant(tmp_path, "loan_pricing")]
    for trial in range(FRESH_TRIALS):
        shutil.rmtree(home / "dagster", ignore_errors=True)
        assert not (home / "dagster").exists()
        procs = [_start("run", str(journeys[i % 2]), home=home) for i in range(4)]
        for i, (code, output) in enumerate(_finish(procs)):
            assert code == 0, f"trial {trial}, run {i}: exit {code}\n{output[-3000:]}"
        fifth = cli("run", str(journeys[0]), home=home)
        assert fifth.returncode == 0, f"trial {trial}: {fifth.stdout}{fifth.stderr}"
        instance = _dagster_instance(home)
        try:
            runs = instance.get_runs()
            assert len({r.tags["e2e/journey_run"] for r in runs}) == 5  # journey runs
            assert len(runs) == 25  # five stages each, one Dagster run per stage
            assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
        finally:
            instance.dispose()


# -- 4. every stage verifies what it reads ---------------------------------------------------
def _frame(rows: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"request_id": [f"R-{i:03d}" for i in range(rows)],
                         "x": rng.normal(size=rows), "grade": list("ABCDEF")[:rows]})


def _tamper(path: Path) -> None:
    """Change one value of a stored frame, keeping its schema and row count."""
    frame = pd.read_parquet(path)
    frame.loc[frame.index[2], "x"] = frame["x"].iloc[2] + 1e-9
    frame.to_parquet(path, index=False)


def test_tampered_handoff_fails_closed_naming_stage_and_run(tmp_path: Path) -> None:
    store = RunStore(tmp_path, "j", "run-a", CREDIT_STAGES)
    ref = store.write("ingest", _frame(), None)
    pd.testing.assert_frame_equal(store.read(ref), _frame(), check_dtype=False)
    data = store.run_dir() / "ingest.parquet"
    _tamper(data)
    with pytest.raises(HandoffError, match=r"j/ingest from run run-a changed after it was "
                                           r"written"):
        store.read(store.upstream_ref("features"))
    data.write_bytes(b"not a parquet file")
    with pytest.raises(HandoffError, match=r"j/ingest from run run-a cannot be read"):
        store.read(ref)
    data.unlink()
    with pytest.raises(HandoffError, match=r"j/ingest from run run-a cannot be read"):
        store.read(ref)


def test_planned_upstream_is_never_read_from_another_run(tmp_path: Path) -> None:
    other = RunStore(tmp_path, "j", "run-b", CREDIT_STAGES)
    other.publish(other.write("ingest", _frame(seed=1), None))
    assert other.latest() == {"ingest": "run-b"}
    mine = RunStore(tmp_path, "j", "run-a", CREDIT_STAGES)
    with pytest.raises(HandoffError, match=r"'features' of run run-a found no output of "
                                           r"'ingest' from the same run"):
        mine.upstream_ref("features")
    # A run that does not produce ingest (a subset run) reads latest's, verified.
    assert mine.upstream_ref("features", planned=False).run_id == "run-b"
    _tamper(other.run_dir() / "ingest.parquet")
    with pytest.raises(HandoffError, match=r"from run run-b changed after it was written"):
        mine.read(mine.upstream_ref("features", planned=False))


def _journey():
    from e2e_assets.spec import load_journey

    return load_journey(REPO / "pipelines" / "credit_approval" / "journey.yaml",
                        variables={"E2E_DATABASE_URL": "sqlite:///:memory:"})


@pytest.mark.parametrize("stage", CREDIT_STAGES[1:])
def test_every_stage_verifies_its_input_digest(tmp_path: Path, stage: str) -> None:
    """The stage protocol itself refuses a tampered upstream, and another run's upstream."""
    from e2e_assets.protocol import RunContext, run_stage_protocol

    journey = _journey()
    upstream = journey.upstream_of(stage)
    store = RunStore(tmp_path, journey.name, "run-a", journey.stages)
    run = RunContext(run_id="run-a", models=None, store=store,  # type: ignore[arg-type]
                     tracking_uri="sqlite:///unused.db")
    store.write(upstream, _frame(), None)
    _tamper(store.run_dir() / f"{upstream}.parquet")
    with pytest.raises(HandoffError, match=rf"credit_approval/{upstream} from run run-a "
                                           rf"changed after it was written"):
        run_stage_protocol(journey, stage, run)
    assert not (store.run_dir() / f"{stage}.json").exists()

    # Only another run has the upstream (and latest names it): a full run refuses it.
    shutil.rmtree(store.run_dir())
    other = RunStore(tmp_path, journey.name, "run-b", journey.stages)
    other.publish(other.write(upstream, _frame(seed=2), None))
    with pytest.raises(HandoffError, match=rf"'{stage}' of run run-a found no output of "
                                           rf"'{upstream}' from the same run"):
        run_stage_protocol(journey, stage, run)
    assert not store.run_dir().exists() or not any(store.run_dir().iterdir())


def test_handoff_gives_the_next_stage_the_frame_its_upstream_wrote(tmp_path: Path) -> None:
    """Missing values of an object column of strings stay None (parquet reads them back as NaN
    in pandas' str dtype): a model encoding None as a category must see what it was trained
    on, or a run serves other scores than the model of record predicts."""
    written = pd.DataFrame({
        "request_id": pd.Series(["R-1", "R-2", "R-3"], dtype=object),
        "home": pd.Series(["rent", None, "owner"], dtype=object),
        "state": pd.Series(["NY", None, "PA"], dtype="str"),
        "income": [1.0, np.nan, 3.0]})
    store = RunStore(tmp_path, "j", "run-a", CREDIT_STAGES)
    read = store.read(store.write("ingest", written, None))
    pd.testing.assert_frame_equal(read, written)
    assert read["home"].iloc[1] is None


def test_a_handoff_read_checks_the_file_bytes_not_the_content_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer records the parquet file's sha256; a read checks the bytes it parses against
    it, so a million-row frame is not digested again at every read. Any change to the file is
    refused, the same rows re-encoded too; a record from before file digests is checked by
    content, as it was."""
    from e2e_assets import handoff

    store = RunStore(tmp_path, "j", "run-a", CREDIT_STAGES)
    ref = store.write("ingest", _frame(), None)
    data = store.run_dir() / "ingest.parquet"
    assert ref.file_digest == "sha256:" + hashlib.sha256(data.read_bytes()).hexdigest()

    def no_content_digest(frame: pd.DataFrame) -> str:
        raise AssertionError("a read with a file digest digested the frame's content")

    with monkeypatch.context() as patched:
        patched.setattr(handoff, "frame_digest", no_content_digest)
        pd.testing.assert_frame_equal(store.read(ref), _frame(), check_dtype=False)

    pd.read_parquet(data).to_parquet(data, index=False, compression="gzip")  # same rows
    with pytest.raises(HandoffError, match=r"changed after it was written: file digest"):
        store.read(ref)

    record = store.run_dir() / "ingest.json"  # a record written before file digests
    raw = json.loads(record.read_text())
    raw["ref"].pop("file_digest")
    record.write_text(json.dumps(raw))
    old = store.upstream_ref("features")
    assert old.file_digest is None
    pd.testing.assert_frame_equal(store.read(old), _frame(), check_dtype=False)
    _tamper(data)
    with pytest.raises(HandoffError, match=r"changed after it was written: digest"):
        store.read(old)
