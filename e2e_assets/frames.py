"""DataFrame helpers: a content digest and atomic parquet files."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

import pandas as pd


def frame_digest(df: pd.DataFrame) -> str:
    """sha256 of a frame's content: column names, dtypes and row values (index excluded).

    Independent of the file format, so the same rows give the same digest whether they came
    from SQL, parquet or memory with the same dtypes.
    """
    df = _canonical(df)
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    if len(df):
        h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return "sha256:" + h.hexdigest()


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns holding only strings (and nulls) as the string dtype parquet gives back,
    so a frame digests the same before and after the parquet hand-off between stages."""
    strings = [c for c in df.columns if df[c].dtype == object
               and pd.api.types.infer_dtype(df[c], skipna=True) in ("string", "empty")]
    if not strings:
        return df
    return df.astype({c: pd.StringDtype(na_value=float("nan")) for c in strings})


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def bytes_digest(raw: bytes) -> str:
    """:func:`file_digest` of bytes already read."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def write_parquet_atomic(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to ``path`` via a temp file and a rename: readers never see half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_parquet_as_written(path: str | Path | bytes) -> pd.DataFrame:
    """A parquet file as the frame its writer held: Python-object string columns included.

    Parquet gives an object column of strings back as pandas' ``str`` dtype, its missing values
    as NaN; the writer's column held None. A model's encoder may tell them apart (scikit-learn's
    OrdinalEncoder learns None as a category when trained on in-memory features, and encodes
    NaN as missing), so the next stage must see None, as in training and in the golden set.
    """
    import pyarrow.parquet as pq

    def source() -> str | Path | io.BytesIO:  # bytes: the file's, read already
        return io.BytesIO(path) if isinstance(path, bytes) else path

    frame = pd.read_parquet(source())
    meta = pq.read_schema(source()).pandas_metadata or {}
    objects = {c.get("name") for c in meta.get("columns", []) if c.get("numpy_type") == "object"}
    for col in frame.columns:
        if col in objects and isinstance(frame[col].dtype, pd.StringDtype):
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame
