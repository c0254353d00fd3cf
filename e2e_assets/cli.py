"""``e2e-assets``: run journeys headless, validate specs, bootstrap the reference journeys.

Exit codes: 0 every blocking check passed; 1 a blocking check failed or a stage broke;
2 bad configuration or infrastructure (spec, database, registry).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from time import perf_counter
from typing import Any, NoReturn

from e2e_assets.discovery import find_journey_file, journey_files
from e2e_assets.dryrun import DEFAULT_SAMPLE_ROWS
from e2e_assets.errors import (
    EXIT_CHECK_FAILED,
    EXIT_CONFIG,
    EXIT_OK,
    E2EAssetsError,
    InfrastructureError,
    SpecError,
)
from e2e_assets.home import Home, check_can_create
from e2e_assets.html_report import write_html_report
from e2e_assets.junit import write_junit
from e2e_assets.progress import reporting
from e2e_assets.results import JourneyRun, render_table, write_report
from e2e_assets.spec import Journey, load_journey

# No library phones home from a test tool.
_QUIET_ENV = {"DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false",
              "MLFLOW_ENABLE_TELEMETRY": "false", "DAGSTER_DISABLE_TELEMETRY": "true",
              "MLFLOW_LOGGING_LEVEL": "WARNING"}
# One OpenMP thread per process unless the user says otherwise: a journey scores request-sized
# batches, which gain nothing from more, and on a shared machine OpenMP threads waiting for a
# core spin: a 1,337-row predict took 1-2 s instead of 0.06 s, and the loan_pricing fit 27-72 s
# instead of 1.5 s (same model either way). Set before sklearn loads OpenMP, which the CLI's
# own imports do not.
_THREAD_ENV = {"OMP_NUM_THREADS": "1"}


# A command is one short process whose heap is mostly modules, definitions and a run's frames,
# all alive until exit: Python's default collector walks them again and again (8 full
# collections, ~1 s of a 7 s run). So, as mypy's CLI does, the young generation is collected
# every 10,000 allocations instead of 700, and nothing is collected once more at exit.
PROGRAM_GC_THRESHOLDS = (10_000, 10, 10)


def _setup() -> None:
    for key, value in {**_QUIET_ENV, **_THREAD_ENV}.items():
        os.environ.setdefault(key, value)
    if str(Path.cwd()) not in sys.path:  # journeys import their stage modules from the project
        sys.path.insert(0, str(Path.cwd()))
    for name in ("mlflow", "alembic", "dagster"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")


_QUIET = {"on": False}  # --quiet: no progress lines, only the results and errors


def _say(msg: str) -> None:
    if not _QUIET["on"]:
        print(msg, file=sys.stderr, flush=True)


def _progress(args: argparse.Namespace) -> Any:
    """Per-stage progress with a spinner on a terminal; nothing when piped or --quiet."""
    from e2e_assets.progress import TerminalProgress

    _QUIET["on"] = bool(getattr(args, "quiet", False))
    return TerminalProgress() if sys.stderr.isatty() and not _QUIET["on"] else None


def _load(name_or_path: str, home: Home) -> Journey:
    return load_journey(find_journey_file(name_or_path), variables=home.variables())


def cmd_validate(args: argparse.Namespace) -> int:
    from e2e_assets.dryrun import preflight

    home = Home.from_env()
    journey = _load(args.journey, home)
    if not args.offline:
        preflight(journey, home, sample_rows=args.sample_rows)
    print(f"{journey.path}: valid journey '{journey.name}' ({' -> '.join(journey.stages)})"
          + (" (offline: registry, source and dry run not checked)" if args.offline else
             f"; dry run on {args.sample_rows} source rows passed"))
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from e2e_assets.scaffold import init_project

    folder = Path(args.folder)
    written = init_project(folder, args.journey)
    print(f"created {len(written)} files in {folder.resolve()}: journey '{args.journey}' "
          f"(pipelines/{args.journey}/), definitions.py, workspace.yaml, README.md")
    print(f"next:   cd {args.folder} && e2e-assets bootstrap {args.journey} && "
          f"e2e-assets run {args.journey}")
    return EXIT_OK


def _all_journey_files() -> list[Path]:
    files = journey_files()
    if not files:
        from e2e_assets.discovery import PIPELINES_ENV, pipelines_dir

        raise SpecError(f"no journeys under {pipelines_dir()} (expected <name>/journey.yaml "
                        f"there, or {PIPELINES_ENV} naming the folder); `e2e-assets init <dir>` "
                        f"creates a project with an example journey", field="journeys")
    return files


def cmd_bootstrap(args: argparse.Namespace) -> int:
    names = args.journeys or [p.parent.name for p in _all_journey_files()]
    home = Home.from_env().ensure()
    for name in names:
        _bootstrap_one(_load(name, home), home, force=args.force)
    return EXIT_OK


def _bootstrap_one(journey: Journey, home: Home, force: bool = False) -> None:
    from e2e_assets.bootstrap import bootstrap_journey

    started = perf_counter()
    _say(f"[{journey.name}] checking source and model ...")
    result = bootstrap_journey(journey, home, force=force)
    if result.ran:
        _say(f"[{result.journey}] bootstrapped in {perf_counter() - started:.1f} s "
             f"(was: {result.reason})")
        if result.gate:
            _say(f"[{result.journey}] {result.gate}")
    else:
        _say(f"[{result.journey}] {result.reason}")


def _run_and_print(journey: Journey, home: Home, alias: str | None,
                   faults: Sequence[str] = (), sample_rows: int = DEFAULT_SAMPLE_ROWS,
                   allow_unblessed: bool = False, partition: str | None = None) -> JourneyRun:
    run = _run_one(journey, home, alias, faults, sample_rows, allow_unblessed=allow_unblessed,
                   partition=partition)
    print(render_table(run), flush=True)
    print(flush=True)
    return run


def _run_one(journey: Journey, home: Home, alias: str | None, faults: Sequence[str] = (),
             sample_rows: int = DEFAULT_SAMPLE_ROWS, allow_unblessed: bool = False,
             partition: str | None = None) -> JourneyRun:
    if faults:
        from e2e_assets.faults import parse_fault, with_faults

        parsed = []
        for text in faults:
            try:
                parsed.append(parse_fault(text))
                journey = with_faults(journey, parsed[-1:])
            except SpecError as exc:
                raise SpecError(exc.detail, field=f"--fault {text}") from None
        _say(f"[{journey.name}] INJECTING faults: {', '.join(f.describe() for f in parsed)} "
             f"(a drill: delivered to the shadow sink, tagged e2e/drill)")
    from e2e_assets.orchestration.run import run_journey  # Dagster: after the cheap checks

    _say(f"[{journey.name}] dry run on {sample_rows} source rows, then "
         f"{' -> '.join(journey.stages)}"
         + (f" on partition {partition}" if partition else "") + " ...")
    if allow_unblessed:
        _say(f"[{journey.name}] --allow-unblessed: serving versions the gate has not blessed "
             f"(recorded in the run's tags)")
    return run_journey(journey, home, alias=alias, sample_rows=sample_rows,
                       allow_unblessed=allow_unblessed, partition=partition)


def cmd_run(args: argparse.Namespace) -> int:

    home = Home.from_env()
    journey = _load(args.journey, home)
    home.check_dagster_home()  # before the dry run; both create nothing
    _check_outputs(args)
    with reporting(_progress(args)):
        run = _run_and_print(journey, home, args.alias, args.fault or (), args.sample_rows,
                             allow_unblessed=args.allow_unblessed, partition=args.partition)
    default_name = journey.name + (f"-{args.partition}" if args.partition else "")
    folder, name = ((Path(args.report).parent, Path(args.report).stem) if args.report
                    else (home.reports, default_name))
    _write_outputs([run], folder, name, args, home)
    return run.exit_code


def cmd_backfill(args: argparse.Namespace) -> int:
    """Every day from --from to --to, each its own ``run --partition`` process, --parallel at
    a time; one line per finished day, one table at the end, the worst exit code."""
    from e2e_assets.orchestration.backfill import backfill_days, run_backfill

    home = Home.from_env()
    journey = _load(args.journey, home)
    home.check_dagster_home()
    days = backfill_days(journey, args.start, args.end)
    _say(f"[{journey.name}] backfill of {len(days)} day(s), {days[0]} to {days[-1]}, "
         f"{args.parallel} at a time ...")
    results = run_backfill(journey, days, parallel=args.parallel, say=_say)
    print(f"journey {journey.name}  backfill {days[0]} .. {days[-1]}")
    print(f"{'day':10}  {'verdict':7}  {'exit':>4}  {'wall s':>6}  report")
    for day in results:
        print(f"{day.day:10}  {day.verdict:7}  {day.exit_code:>4}  {day.wall_time_s:>6.1f}  "
              f"{home.reports / day.report_name}")
    return max(day.exit_code for day in results)


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse unwritable --report/--junit paths before anything runs."""
    for flag, value in (("--report", getattr(args, "report", None)),
                        ("--junit", args.junit)):
        if value:
            check_can_create(Path(value).parent, flag)


def _write_outputs(runs: list[JourneyRun], folder: Path, name: str,
                   args: argparse.Namespace, home: Home) -> None:
    """The JSON report (``<folder>/<name>.json``) and, with --junit, the JUnit XML."""
    flag = " (--report)" if getattr(args, "report", None) else ""
    _write_or_say(lambda: write_report(runs, folder, name), "report", folder / f"{name}.json",
                  flag)
    html = folder / f"{name}.html"
    _write_or_say(lambda: write_html_report(runs, html), "html", html, flag)
    for run in runs:
        _log_to_mlflow(home, run, [folder / f"{name}.json", html])
    if args.junit:
        _write_or_say(lambda: write_junit(runs, Path(args.junit)), "junit", Path(args.junit),
                      " (--junit)")


def _log_to_mlflow(home: Home, run: JourneyRun, reports: list[Path]) -> None:
    """The run as an MLflow validation run of its model version; a failure to log is said,
    never a change of the run's verdict or exit code."""
    from e2e_assets.validation_run import log_validation_run

    try:
        logged = log_validation_run(home.tracking_uri, run, reports)
    except Exception as exc:  # noqa: BLE001 - MLflow's errors are many; the run is decided
        _say(f"[{run.journey}] could not log the validation run to MLflow at "
             f"{home.tracking_uri}: {type(exc).__name__}: {exc}")
        return
    if logged is not None:
        print(f"mlflow: validation run {logged.run_id} (experiment {logged.experiment_id}) "
              f"of {run.model.get('name')} v{run.model.get('version')}")


def _write_or_say(write: Callable[[], Path], label: str, path: Path, flag: str) -> None:
    try:
        print(f"{label + ':':7} {write()}")
    except OSError as exc:
        raise InfrastructureError(f"cannot write {path}{flag}: {exc.strerror or exc}") from exc


def cmd_faults(args: argparse.Namespace) -> int:
    from e2e_assets.fault_matrix import render_matrix
    from e2e_assets.fault_runs import run_matrix
    from e2e_assets.results import write_json_atomic

    if args.home:  # every part of the run (the latency history too) reads the home from env
        if not Path(args.home).is_dir():
            raise InfrastructureError(f"--home {args.home}: no such folder; `e2e-assets "
                                      f"bootstrap` with E2E_ASSETS_HOME={args.home} makes one")
        os.environ["E2E_ASSETS_HOME"] = str(Path(args.home).resolve())
    home = Home.from_env()
    journey = _load(args.journey, home)
    if args.json:
        check_can_create(Path(args.json).parent, "--json")
    only = [f.strip() for f in args.only.split(",") if f.strip()] if args.only else None
    matrix = run_matrix(journey, home, clean_runs=args.clean_runs, only=only,
                        progress=lambda line: _say(f"[{journey.name}] {line}"))
    print(render_matrix(matrix), flush=True)
    if args.json:
        try:
            print(f"json: {write_json_atomic(matrix.to_dict(), Path(args.json))}")
        except OSError as exc:
            raise InfrastructureError(f"cannot write {args.json} (--json): "
                                      f"{exc.strerror or exc}") from exc
    return EXIT_OK if matrix.passed else EXIT_CHECK_FAILED


def cmd_demo(args: argparse.Namespace) -> int:

    _check_outputs(args)
    files = _all_journey_files()
    home = Home.from_env().ensure()
    _say(f"e2e-assets demo: home {home.root}, MLflow {home.tracking_uri}")
    journeys = [_load(str(p), home) for p in files]
    progress = _progress(args)
    jobs = min(len(journeys), args.jobs or os.cpu_count() or 1)
    if jobs > 1:
        runs = _demo_in_parallel([str(j.path) for j in journeys], jobs)
        for run in runs:
            print(render_table(run), flush=True)
            print(flush=True)
    else:
        for journey in journeys:
            _bootstrap_one(journey, home)
        with reporting(progress):
            runs = [_run_and_print(j, home, None) for j in journeys]
    _write_outputs(runs, home.reports, "demo", args, home)
    gates = sorted(home.reports.glob("*-gate.json"))
    if gates:
        print(f"gates:  {', '.join(str(g) for g in gates)} (the promotion gate's decisions)")
    print(f"UI:     DAGSTER_HOME={home.dagster_home} .venv/bin/dagster dev -w workspace.yaml")
    return max(r.exit_code for r in runs)


def _demo_in_parallel(paths: list[str], workers: int) -> list[JourneyRun]:
    """Each journey bootstrapped and run in a process of its own, ``workers`` at once: the
    journeys share nothing but the home, whose stores take concurrent runs. Progress lines say
    which journey they are about; the tables come back in journey order."""
    import multiprocessing
    import threading
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    warm = threading.Thread(target=_import_mlflow, daemon=True)
    # spawn, not fork: a child starts clean, without this process's imports and handles
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=gc.set_threshold,
                             initargs=PROGRAM_GC_THRESHOLDS) as pool:
        futures = [pool.submit(_demo_journey, path, _QUIET["on"]) for path in paths]
        # MLflow (to log the validation runs at the end) imported on the core the first
        # finished journey leaves free, rather than after the last one
        wait(futures, return_when=FIRST_COMPLETED)
        warm.start()
        outcomes = [f.result() for f in futures]
    warm.join()
    for outcome in outcomes:
        if isinstance(outcome, tuple):  # the first failure in journey order, as sequentially
            error = E2EAssetsError(outcome[0])
            error.exit_code = outcome[1]
            raise error
    return [o for o in outcomes if isinstance(o, JourneyRun)]


def _import_mlflow() -> None:
    with contextlib.suppress(Exception):  # an import that fails says so where it is used
        import mlflow  # noqa: F401


def _demo_journey(path: str, quiet: bool) -> JourneyRun | tuple[str, int]:
    """One journey of the demo in a worker process: bootstrap what is missing, then run it.
    An error comes back as (message, exit code): not every error class survives pickling."""
    _setup()
    _QUIET["on"] = quiet
    try:
        home = Home.from_env()
        journey = _load(path, home)
        _bootstrap_one(journey, home)
        return _run_one(journey, home, None)
    except E2EAssetsError as exc:
        return _message(exc), exc.exit_code


def cmd_gate(args: argparse.Namespace) -> int:
    from e2e_assets.release.gate import gate_candidates, resolve_candidate

    home = Home.from_env()
    journey = _load(args.journey, home)
    home.check_dagster_home()
    candidates = resolve_candidate(journey, home, args.candidate, args.stage)
    _say(f"[{journey.name}] gate: running the journey with "
         f"{', '.join(f'{s} v{v}' for s, v in candidates.items())} and every check ...")
    return _print_decision(gate_candidates(journey, home, candidates))


def cmd_rollback(args: argparse.Namespace) -> int:
    from e2e_assets.release.gate import gate_candidates, previous_champion

    home = Home.from_env()
    journey = _load(args.journey, home)
    home.check_dagster_home()
    candidates = previous_champion(journey, home)
    _say(f"[{journey.name}] rollback: re-validating the previous champion "
         f"{', '.join(f'{s} v{v}' for s, v in candidates.items())} through the gate ...")
    return _print_decision(gate_candidates(journey, home, candidates, action="rollback"))


def _print_decision(decision: Any) -> int:
    print(decision.describe())
    print(f"record: MLflow run {decision.mlflow_run_id}, Dagster run {decision.dagster_run_id}")
    print(f"report: {decision.report}")
    return int(decision.exit_code)


def cmd_retrain(args: argparse.Namespace) -> int:
    from e2e_assets.release.retrain import retrain_journey

    home = Home.from_env()
    journey = _load(args.journey, home)
    started = perf_counter()
    _say(f"[{journey.name}] retraining on recent data ...")
    result = retrain_journey(journey, home)
    print(f"registered {result.model} v{result.version} as '{result.alias}' in "
          f"{perf_counter() - started:.1f} s (not serving: `e2e-assets gate {journey.name} "
          f"--candidate {result.version}` validates it and moves the champion if it passes)")
    print(f"version: {result.version}")
    return EXIT_OK


def cmd_suggest_suite(args: argparse.Namespace) -> int:
    import json

    from e2e_assets.results import write_json_atomic

    home = Home.from_env()
    journey = _load(args.journey, home)
    if args.stage not in ("source", *journey.stages):
        raise SpecError(f"unknown stage '{args.stage}'; expected 'source' or one of "
                        f"{list(journey.stages)}", file=str(journey.path))
    out = Path(args.out) if args.out else (journey.project_root / "expectations" /
                                           journey.name / f"{args.stage}.json")
    if args.out != "-" and out.exists() and not args.force:  # before any work
        raise SpecError("exists; pass --force to overwrite or --out to write elsewhere "
                        "(--out - prints it)", file=str(out))
    sample, origin = _suite_reference(journey, home, args.stage, args.reference)
    labels = journey.spec.labels
    from e2e_assets.checks.suggest import suggest_suite

    suite = suggest_suite(sample, name=f"{journey.name}.{args.stage}",
                          id_column=journey.spec.request_id, sensitive=tuple(journey.spec.sensitive),
                          label=labels.column if labels else None)
    if args.out == "-":
        print(json.dumps(suite, indent=2))
        return EXIT_OK
    try:
        write_json_atomic(suite, out)
    except OSError as exc:
        raise InfrastructureError(f"cannot write the suite {out}: {exc.strerror or exc}"
                                  ) from exc
    print(f"drafted {len(suite['expectations'])} expectations from {len(sample)} rows of "
          f"{origin} -> {out} (review every bound before relying on it)")
    return EXIT_OK


def _suite_reference(journey: Journey, home: Home, stage: str, reference: str
                     ) -> tuple[Any, str]:
    """The frame a suite is drafted from: the model's training data through the stages (the
    population the model knows), or one served sample (the source, or the latest output)."""
    from e2e_assets.handoff import RunStore
    from e2e_assets.serving import ServedModels
    from e2e_assets.sources import read_source
    from e2e_assets.stages import run_through

    served = ServedModels(journey, home.tracking_uri, allow_unblessed=True)
    if reference == "training":
        from e2e_assets.checks.drift import logged_frame

        record = served.record()
        if record is None:
            raise SpecError("the journey serves no model, so it has no training data; draft "
                            "from a served sample with --reference source", field="--reference")
        raw = logged_frame(home.tracking_uri, record)
        if stage == "source":
            return raw, f"the training data of {record.name} v{record.version}"
        frame = run_through(journey, raw, models=served.all_loaded(until=stage),
                            until=stage)[stage]
        return frame, f"the training data of {record.name} v{record.version} through '{stage}'"
    store = RunStore(home.storage, journey.name, "suggest-suite", journey.stages)
    if stage == "source":
        return read_source(journey), "the source"
    if stage in store.latest():
        return store.read_latest(stage), f"the latest stored output (run {store.latest()[stage]})"
    _say(f"[{journey.name}] no stored {stage} output; running the stages in memory ...")
    return run_through(journey, read_source(journey), models=served.all_loaded(until=stage),
                       until=stage)[stage], "the source run through the served models"


def _junit_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--junit", metavar="PATH",
                   help="also write JUnit XML here: a testcase per check, classname "
                        "<journey>.<stage>, a <failure> for each failed error check")
    p.add_argument("--quiet", action="store_true",
                   help="no progress lines (on a terminal: one per stage as it finishes); "
                        "only the results, report paths and errors")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="e2e-assets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="bootstrap what is missing and run every reference journey")
    p.add_argument("--jobs", type=_positive_int, metavar="N",
                   help="journeys bootstrapped and run at once, each in its own process "
                        "(default: one per core; 1: one after the other, in this process)")
    _junit_option(p)
    p.set_defaults(fn=cmd_demo)
    p = sub.add_parser("run", help="run one journey headless (exit 0/1/2)")
    p.add_argument("journey", help="journey name (folder under pipelines/) or journey.yaml path")
    p.add_argument("--alias", help="serve this model alias instead of the spec's (e.g. challenger)")
    p.add_argument("--report", help="write the JSON report here (default: <home>/reports/)")
    p.add_argument("--fault", action="append", metavar="ID[:STAGE[:COLUMN[=VALUE]]]",
                   help="inject a production fault (see docs/faults.md; VALUE sets its first "
                        "parameter), e.g. null_burst:features:age=0.9; a drill: delivered to "
                        "the shadow sink")
    p.add_argument("--allow-unblessed", action="store_true",
                   help="serve model versions the promotion gate has not blessed (a drill; "
                        "recorded in the run's tags)")
    p.add_argument("--partition", metavar="YYYY-MM-DD",
                   help="the day to run, for a journey with 'partitions: {daily: ...}' (its "
                        "source rows of that day only; report <journey>-<day>.json)")
    _sample_rows_option(p)
    _junit_option(p)
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("backfill", help="run a daily-partitioned journey for every day of a "
                                        "range, each day its own run (exit: the worst day's)")
    p.add_argument("journey", help="journey name or journey.yaml path")
    p.add_argument("--from", dest="start", required=True, metavar="YYYY-MM-DD",
                   help="the first day")
    p.add_argument("--to", dest="end", required=True, metavar="YYYY-MM-DD",
                   help="the last day (included)")
    p.add_argument("--parallel", type=_positive_int, default=2, metavar="N",
                   help="days run at once (default 2); with E2E_EXECUTOR=celery their steps "
                        "go to the workers")
    p.set_defaults(fn=cmd_backfill)
    p = sub.add_parser("faults", help="inject every fault of the catalogue into the journey, "
                                      "one drill each, and print which check caught it at "
                                      "which stage (exit 0 all caught there, 1 otherwise)")
    p.add_argument("journey", help="journey name or journey.yaml path")
    p.add_argument("--home", help="the home to run in (default: E2E_ASSETS_HOME, else .e2e)")
    p.add_argument("--json", metavar="PATH", help="also write the matrix as JSON here")
    p.add_argument("--clean-runs", type=_positive_int, default=1, metavar="N",
                   help="clean runs counting false alarms: the first on the whole source, "
                        "the others on 75%% resamples (default 1)")
    p.add_argument("--only", metavar="ID,ID", help="drill only these faults (default: every "
                                                   "injectable one)")
    p.set_defaults(fn=cmd_faults)
    p = sub.add_parser("gate", help="validate a candidate through the whole journey; move the "
                                    "champion only if every blocking check passes (exit 0 "
                                    "promoted, 1 refused, 2 configuration)")
    p.add_argument("journey", help="journey name or journey.yaml path")
    p.add_argument("--candidate", help="version number or alias (default: challenger)")
    p.add_argument("--stage", help="the stage whose model is gated (default: the model of "
                                   "record's)")
    p.set_defaults(fn=cmd_gate)
    p = sub.add_parser("rollback", help="re-validate the previous champion through the gate "
                                        "and move the alias back only if it passes")
    p.add_argument("journey", help="journey name or journey.yaml path")
    p.set_defaults(fn=cmd_rollback)
    p = sub.add_parser("retrain", help="run the journey's training hook on recent data and "
                                       "register the result as the challenger")
    p.add_argument("journey", help="journey name or journey.yaml path")
    p.set_defaults(fn=cmd_retrain)
    p = sub.add_parser("validate", help="validate a journey spec and dry-run it on a sample "
                                        "(exit 0 valid, 2 invalid)")
    p.add_argument("journey", help="journey.yaml path or journey name")
    p.add_argument("--offline", action="store_true",
                   help="check the spec only: no registry, no source, no dry run")
    _sample_rows_option(p)
    p.set_defaults(fn=cmd_validate)
    p = sub.add_parser("init", help="create a project: an example journey (stages, training, "
                                    "suites), definitions.py and workspace.yaml for Dagster")
    p.add_argument("folder", help="the project folder (new, or without the files to write)")
    p.add_argument("--journey", default="card_default",
                   help="the example journey's name (default card_default)")
    p.set_defaults(fn=cmd_init)
    p = sub.add_parser("bootstrap", help="create the sources and models journeys need")
    p.add_argument("journeys", nargs="*", help="journey names (default: all)")
    p.add_argument("--force", action="store_true", help="retrain and re-register even if present")
    p.set_defaults(fn=cmd_bootstrap)
    p = sub.add_parser("suggest-suite", help="draft a GX suite for a stage from a reference sample")
    p.add_argument("journey", help="journey name or journey.yaml path")
    p.add_argument("stage", help="'source' or one of the journey's stages")
    p.add_argument("--out", help="where to write (default expectations/<journey>/<stage>.json; "
                   "'-' prints)")
    p.add_argument("--force", action="store_true", help="overwrite an existing suite")
    p.add_argument("--reference", choices=["training", "served"], default="training",
                   help="draft from the model version's training data through the stages "
                        "(default: the population the model knows) or from one served sample")
    p.set_defaults(fn=cmd_suggest_suite)
    return parser


def _sample_rows_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample-rows", type=_positive_int, default=DEFAULT_SAMPLE_ROWS,
                        metavar="N", help="source rows the dry run uses before anything runs "
                        f"(default {DEFAULT_SAMPLE_ROWS})")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"expected 1 to 1000000, got {value}")
    return value


def _message(exc: E2EAssetsError) -> str:
    """The error as printed: a SpecError about the command line (no file) without '<spec>'."""
    if isinstance(exc, SpecError) and exc.file is None:
        return f"{exc.field}: {exc.detail}" if exc.field else exc.detail
    return str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup()
    try:
        return int(args.fn(args))
    except E2EAssetsError as exc:  # each class carries its exit code
        print(f"error: {_message(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug of ours: one line, and how to see the detail
        if os.environ.get("E2E_ASSETS_DEBUG"):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"error: internal error in e2e-assets ({type(exc).__name__}: {first}); please "
              f"report it. Set E2E_ASSETS_DEBUG=1 to see the traceback.", file=sys.stderr)
        return EXIT_CONFIG


def program() -> NoReturn:
    """The ``e2e-assets`` program (console script and ``python -m e2e_assets``): :func:`main`
    in a process of its own. Library callers and tests call :func:`main` and keep Python's
    collector settings."""
    gc.set_threshold(*PROGRAM_GC_THRESHOLDS)
    code = main()
    sys.stdout.flush()
    gc.freeze()  # atexit handlers still run; the heap is left to the OS, not walked once more
    sys.exit(code)


if __name__ == "__main__":
    program()
