"""``e2e-assets backfill``: a range of days of a daily-partitioned journey, each day its own run,
through the real CLI; a bad range is refused before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import REPO, cli

pytestmark = pytest.mark.slow
DAILY = REPO / "tests" / "journeys" / "daily_credit" / "journey.yaml"


@pytest.fixture()
def daily_home(home: Path) -> Path:
    from e2e_assets.home import Home
    from tests.journeys.daily_credit.source import applications

    engine = sa.create_engine(Home.from_env().database_url)
    with engine.begin() as conn:
        applications().to_sql("daily_credit_applications", conn, index=False)
    engine.dispose()
    return home


def test_a_backfill_runs_each_day_and_reports_each(daily_home: Path) -> None:
    days = ["2026-01-03", "2026-01-04", "2026-01-05"]
    proc = cli("backfill", str(DAILY), "--from", days[0], "--to", days[-1], "--parallel", "2",
               home=daily_home, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = [line for line in proc.stdout.splitlines() if line[:4] == "2026"]
    assert [line.split()[:3] for line in table] == [[d, "PASSED", "0"] for d in days]
    for day in days:  # one line of progress per finished day, then the table
        assert f"[daily_credit] {day}: PASSED (exit 0)" in proc.stderr
        report = json.loads((daily_home / "reports" / f"daily_credit-{day}.json").read_text())
        (run,) = report["runs"]
        rows = run["stages"][0]["rows_out"]
        assert 300 <= rows <= 330  # one day of the 4,454 applications spread over 14 days
    import dagster as dg

    from e2e_assets.home import Home
    from e2e_assets.orchestration.instance import instance_for

    instance = instance_for(Home.from_env())
    done = instance.get_materialized_partitions(dg.AssetKey(["daily_credit", "deliver"]))
    assert set(days) <= done


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2026-01-05", "--to", "2026-01-03"], "--to: --to 2026-01-03 is before --from"),
    (["--from", "2025-12-30", "--to", "2026-01-02"],
     "--from: --from 2025-12-30 is before the journey's first partition 2026-01-01"),
    (["--from", "2026-01-05", "--to", "2099-01-01"], "--to: --to 2099-01-01 is not a complete"),
    (["--from", "5 Jan", "--to", "2026-01-06"], "--from: expected a day YYYY-MM-DD, got '5 Jan'"),
])
def test_a_bad_range_is_refused_before_anything_runs(tmp_path: Path, args: list[str],
                                                     message: str) -> None:
    proc = cli("backfill", str(DAILY), *args, home=tmp_path / "home")
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "home").exists()  # nothing created


def test_a_journey_without_partitions_cannot_be_backfilled(tmp_path: Path) -> None:
    proc = cli("backfill", "credit_approval", "--from", "2026-01-01", "--to", "2026-01-02",
               home=tmp_path / "home")
    assert proc.returncode == 2
    assert "journey 'credit_approval' is not partitioned" in proc.stderr
