"""Journey spec: valid files load; every kind of bad spec fails with file, line, field, expectation."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from e2e_assets.errors import SpecError
from e2e_assets.spec import load_journey

REPO = Path(__file__).resolve().parents[2]
VARS = {"E2E_DATABASE_URL": "sqlite:///:memory:", "E2E_ASSETS_HOME": "/tmp/e2e-home"}

MINIMAL = """\
journey: tiny
module: pipelines.credit_approval.stages
source:
  kind: sql
  url: ${E2E_DATABASE_URL}
  table: credit_applications
model:
  uri: models:/credit_approval@champion
stages:
  features: {function: build_features}
  score: {function: score}
  decide: {function: decide}
sink:
  url: ${E2E_DATABASE_URL}
  table: decisions
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "journey.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize("name", ["credit_approval", "loan_pricing"])
def test_reference_journeys_load(name: str) -> None:
    journey = load_journey(REPO / "pipelines" / name / "journey.yaml", variables=VARS)
    assert journey.name == name
    assert set(journey.functions) >= {"features", "score", "decide", "deliver", "bootstrap"}
    assert journey.spec.model.alias == "champion"
    assert journey.config_digest == load_journey(
        REPO / "pipelines" / name / "journey.yaml", variables=VARS).config_digest


def test_minimal_spec_defaults(tmp_path: Path) -> None:
    journey = load_journey(write(tmp_path, MINIMAL), variables=VARS)
    spec = journey.spec
    assert spec.request_id == "request_id" and spec.sink_key == "request_id"
    assert spec.stage("ingest") is None and spec.stage("deliver") is None
    assert journey.stages == ("ingest", "features", "score", "decide", "deliver")
    assert spec.sink_stage == "deliver" and spec.model_stages == ("score",)
    assert spec.source.url == "sqlite:///:memory:"  # type: ignore[union-attr]
    assert spec.checks == {}


def test_config_digest_changes_with_content(tmp_path: Path) -> None:
    a = load_journey(write(tmp_path, MINIMAL), variables=VARS).config_digest
    b = load_journey(write(tmp_path, MINIMAL.replace("decisions", "other")),
                     variables=VARS).config_digest
    assert a != b


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("  table: decisions", "  table: [decisions"))
    with pytest.raises(SpecError) as err:
        load_journey(path, variables=VARS)
    assert err.value.file == str(path)
    assert err.value.line is not None and err.value.line >= 15
    assert "malformed YAML" in str(err.value)


def test_unknown_field_is_named_with_its_path_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("  table: decisions", "  table: decisions\n  tabel: x"))
    with pytest.raises(SpecError) as err:
        load_journey(path, variables=VARS)
    assert err.value.field == "sink.tabel"
    assert err.value.line == 16
    assert "unknown field; expected one of: kind, url, table, key" in str(err.value)
    assert str(path) in str(err.value)


def test_wrong_type_says_what_was_expected(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("journey: tiny", "journey: tiny\nseed: many"))
    with pytest.raises(SpecError) as err:
        load_journey(path, variables=VARS)
    assert err.value.field == "seed"
    assert "integer" in str(err.value) and "'many'" in str(err.value)


def test_stage_names_are_free_but_valid(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("  decide: {function: decide}\n", ""))
    assert load_journey(path, variables=VARS).stages == ("ingest", "features", "score",
                                                         "deliver")
    for bad, expected in (("Decide", "not an identifier"), ("runs", "reserved"),
                          ("9decide", "not an identifier")):
        path = write(tmp_path, MINIMAL.replace("  decide: {function: decide}",
                                               f"  {bad}: {{function: decide}}"))
        with pytest.raises(SpecError, match=expected) as err:
            load_journey(path, variables=VARS)
        assert err.value.field == "stages"


def test_ingest_first_deliver_last_and_the_model_stage(tmp_path: Path) -> None:
    moved = MINIMAL.replace("  decide: {function: decide}\n",
                            "  decide: {function: decide}\n  ingest: {function: decide}\n")
    with pytest.raises(SpecError, match="'ingest' reads the source, so it must come first"):
        load_journey(write(tmp_path, moved), variables=VARS)
    no_score = MINIMAL.replace("  score: {function: score}\n", "")
    with pytest.raises(SpecError, match="top-level 'model:' is served by stage 'score'"):
        load_journey(write(tmp_path, no_score), variables=VARS)


def test_unknown_source_kind_lists_the_valid_ones(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("kind: sql", "kind: kafka"))
    with pytest.raises(SpecError) as err:
        load_journey(path, variables=VARS)
    assert err.value.field == "source"
    assert "'sql', 'parquet', 'generator'" in str(err.value)


def test_missing_stage_function_lists_what_exists(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("function: decide", "function: decde"))
    with pytest.raises(SpecError) as err:
        load_journey(path, variables=VARS)
    assert err.value.field == "stages.decide.function"
    assert err.value.line == 12
    assert "no function 'decde'" in str(err.value) and "'decide'" in str(err.value)


def test_unresolvable_module(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("pipelines.credit_approval.stages", "no_such.module"))
    with pytest.raises(SpecError) as err:
        load_journey(path, variables=VARS)
    assert err.value.field == "module"
    assert "cannot import module 'no_such.module'" in str(err.value)


def test_function_with_explicit_module(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("{function: decide}",
                                           "{function: 'pipelines.loan_pricing.stages:decide'}"))
    journey = load_journey(path, variables=VARS)
    assert journey.functions["decide"].__module__ == "pipelines.loan_pricing.stages"


def test_stage_model_uri_must_be_an_alias(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("@champion", "/Production"))
    with pytest.raises(SpecError) as err:
        load_journey(path, variables=VARS)
    assert err.value.field == "model.uri"
    assert "aliases, not stages" in str(err.value)


def test_unset_variable_without_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("E2E_NOT_SET", raising=False)
    path = write(tmp_path, MINIMAL.replace("table: decisions", "table: ${E2E_NOT_SET}"))
    with pytest.raises(SpecError) as err:
        load_journey(path, variables=VARS)
    assert err.value.field == "sink.table"
    assert "${E2E_NOT_SET} is not set" in str(err.value)


def test_variable_default_and_environment_override(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, MINIMAL.replace("table: decisions", "table: ${E2E_SINK:-fallback}"))
    assert load_journey(path, variables=VARS).spec.sink.table == "fallback"
    monkeypatch.setenv("E2E_SINK", "from_env")
    assert load_journey(path, variables=VARS).spec.sink.table == "from_env"


def test_checks_have_a_place_and_unique_names(tmp_path: Path) -> None:
    rules = "{kind: rules, severity: warn, blocking: false, options: {rules: [{name: a, expr: 'x > 0'}]}}"
    spec = load_journey(write(tmp_path, MINIMAL + f"checks:\n  score:\n    - {rules}\n"),
                        variables=VARS).spec
    assert spec.checks["score"][0].severity == "warn"
    dupes = MINIMAL + "checks:\n  decide:\n    - {kind: reconcile}\n    - {kind: reconcile}\n"
    with pytest.raises(SpecError, match="unique names"):
        load_journey(write(tmp_path, dupes), variables=VARS)
    bad_stage = MINIMAL + "checks:\n  scoring:\n    - {kind: reconcile}\n"
    with pytest.raises(SpecError) as err:
        load_journey(write(tmp_path, bad_stage), variables=VARS)
    assert err.value.field == "checks.scoring"


def test_unknown_check_kind_lists_registered_ones(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "checks:\n  score:\n    - {kind: fairnes}\n")
    with pytest.raises(SpecError) as err:
        load_journey(path, variables=VARS)
    assert err.value.field == "checks.score.0.kind" and err.value.line == 18
    assert "unknown check kind 'fairnes'" in str(err.value) and "'rules'" in str(err.value)


def test_check_kind_on_a_stage_it_cannot_attach_to(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "checks:\n  ingest:\n    - {kind: reconcile}\n")
    with pytest.raises(SpecError, match="'ingest' is the first stage") as err:
        load_journey(path, variables=VARS)
    assert err.value.field == "checks.ingest.0.options.against"
    path = write(tmp_path, MINIMAL + "checks:\n  decide:\n    - kind: contract\n"
                 "      options: {against: signature}\n")
    with pytest.raises(SpecError, match="stage 'decide' serves none"):
        load_journey(path, variables=VARS)


def test_bad_check_option_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "checks:\n  score:\n    - kind: golden\n"
                 "      options: {mode: fuzzy}\n")
    with pytest.raises(SpecError) as err:
        load_journey(path, variables=VARS)
    assert err.value.field == "checks.score.0.options.mode"
    assert "'exact', 'tolerance' or 'statistical'" in str(err.value)


def test_bad_rule_expression_fails_at_load_with_position(tmp_path: Path) -> None:
    rule = "{name: r, expr: \"decision == 'approve' implies income.real > 0\"}"
    path = write(tmp_path, MINIMAL + f"checks:\n  decide:\n    - kind: rules\n"
                 f"      options: {{rules: [{rule}]}}\n")
    with pytest.raises(SpecError) as err:
        load_journey(path, variables=VARS)
    assert err.value.field == "checks.decide.0.options.rules.0.expr"
    assert "attribute access not allowed in rules at column 31" in str(err.value)


def test_missing_expectation_suite_fails_at_load(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "checks:\n  score:\n    - kind: expectations\n"
                 "      options: {suite: expectations/none/nothing.json}\n")
    with pytest.raises(SpecError, match="expectation suite not found"):
        load_journey(path, variables=VARS)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not found"):
        load_journey(tmp_path / "nope.yaml")


LABELS = "labels: {column: Status, positive: bad, prediction: p_default}\n"


@pytest.mark.parametrize(("extra", "field", "message"), [
    ("checks:\n  score:\n    - kind: quality\n      options: {thresholds: {roc_auc: "
     "{threshold: 0.7}}}\n", "checks.score.0.options.thresholds", "needs the journey's 'labels:'"),
    (LABELS + "checks:\n  score:\n    - kind: quality\n      options: {thresholds: {rmse: "
     "{threshold: 1}}}\n", "checks.score.0.options.thresholds",
     "unknown metrics ['rmse'] for a classifier"),
    (LABELS + "checks:\n  features:\n    - kind: challenger\n", "checks.features.0.options.stage",
     "runs at or after the stage serving the model of record ('score')"),
    (LABELS + "checks:\n  decide:\n    - kind: challenger\n      options: {metrics: {auc: "
     "{margin: 0.01}}}\n", "checks.decide.0.options.metrics", "unknown metrics ['auc']"),
    (LABELS + "checks:\n  score:\n    - kind: quality\n      options: {thresholds: {}}\n",
     "checks.score.0.options.thresholds", "at least 1 item"),
    ("release: {drift_ticks: 0}\n", "release.drift_ticks", "greater than or equal to 1"),
    ("release: {retrain: {function: nope}}\n", "release.retrain.function",
     "has no function 'nope'"),
])
def test_release_settings_are_checked_when_the_spec_loads(tmp_path: Path, extra: str,
                                                         field: str, message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)) as caught:
        load_journey(write(tmp_path, MINIMAL + extra), variables=VARS)
    assert caught.value.field == field, caught.value


# --- fallback: on a model stage only, its function must exist, its numbers in range -----------

FALLBACK = MINIMAL.replace("  score: {function: score}\n", """\
  score:
    function: score
    fallback: {function: review_score, max_fallback_share: 0.05, retries: 2, backoff_s: 0.2}
""")


def test_fallback_loads_and_adds_its_check(tmp_path: Path) -> None:
    journey = load_journey(write(tmp_path, FALLBACK), variables=VARS)
    fallback = journey.spec.stage("score").fallback  # type: ignore[union-attr]
    assert fallback is not None and fallback.max_fallback_share == 0.05
    assert fallback.retries == 2 and fallback.batch_rows is None
    assert journey.functions["score:fallback"].__name__ == "review_score"
    check = {c.name: c for c in journey.checks_for("score")}["fallback"]
    assert check.blocking and check.phase == "output"


@pytest.mark.parametrize(("change", "field", "expected"), [
    ("function: review_score", "stages.score.fallback.function", "has no function 'nope'"),
    ("max_fallback_share: 0.05", "stages.score.fallback.max_fallback_share",
     "less than or equal to 1"),
    ("retries: 2", "stages.score.fallback.retries", "greater than or equal to 0"),
    ("backoff_s: 0.2", "stages.score.fallback.backoff_s", "less than or equal to 60"),
])
def test_bad_fallback_names_the_field(tmp_path: Path, change: str, field: str,
                                      expected: str) -> None:
    bad = {"function: review_score": "function: nope", "max_fallback_share: 0.05":
           "max_fallback_share: 1.5", "retries: 2": "retries: -1",
           "backoff_s: 0.2": "backoff_s: 600"}[change]
    with pytest.raises(SpecError) as info:
        load_journey(write(tmp_path, FALLBACK.replace(change, bad)), variables=VARS)
    assert info.value.field == field and expected in str(info.value), str(info.value)
    assert info.value.line == 13  # the fallback: line


def test_fallback_on_a_stage_without_a_model_is_refused(tmp_path: Path) -> None:
    text = FALLBACK.replace("  decide: {function: decide}\n",
                            "  decide:\n    function: decide\n    fallback: {function: decide}\n")
    with pytest.raises(SpecError, match="declares a fallback but serves no model") as info:
        load_journey(write(tmp_path, text), variables=VARS)
    assert info.value.field == "stages.decide.fallback"


def test_fallback_check_without_a_fallback_is_refused(tmp_path: Path) -> None:
    text = MINIMAL + "checks:\n  score:\n    - kind: fallback\n"
    with pytest.raises(SpecError, match="declares none") as info:
        load_journey(write(tmp_path, text), variables=VARS)
    assert info.value.field == "checks.score.0.kind"


PARTITIONED = MINIMAL + """\
partitions:
  daily: {start: "2026-01-01", column: application_date}
"""


def test_daily_partitions_load(tmp_path: Path) -> None:
    daily = load_journey(write(tmp_path, PARTITIONED), variables=VARS).spec.partitions
    assert daily is not None and str(daily.daily.start) == "2026-01-01"
    assert daily.daily.column == "application_date" and daily.daily.end is None
    assert load_journey(write(tmp_path, MINIMAL), variables=VARS).spec.partitions is None


@pytest.mark.parametrize(("block", "field", "expected"), [
    ('{daily: {start: "2026-13-01", column: d}}', "partitions.daily.start", "valid date"),
    ("{daily: {column: d}}", "partitions.daily.start", "required field is missing"),
    ('{daily: {start: "2026-01-01"}}', "partitions.daily.column", "required field is missing"),
    ('{daily: {start: "2026-01-01", column: d, end: "2026-01-01"}}', "partitions.daily",
     "'end' (2026-01-01) must be after 'start'"),
    # every problem, not the first only
    ('{hourly: {start: "2026-01-01", column: d}}', "partitions.daily",
     "'partitions.hourly': unknown field; expected one of: daily"),
])
def test_bad_partitions_name_the_field(tmp_path: Path, block: str, field: str,
                                       expected: str) -> None:
    path = write(tmp_path, MINIMAL + f"partitions: {block}\n")
    with pytest.raises(SpecError) as err:
        load_journey(path, variables=VARS)
    assert err.value.field == field and err.value.file == str(path)
    assert err.value.line == MINIMAL.count("\n") + 1
    assert expected in str(err.value)
