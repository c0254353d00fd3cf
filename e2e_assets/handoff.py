"""Per-run hand-off between stages, and the journey's ``latest`` outputs, never mixed.

Layout under ``<storage>/<journey>/``::

    runs/<run_id>/<stage>.parquet   what the stage handed on in that run (atomic rename)
    runs/<run_id>/<stage>.json      its record: data digest, rows, and the input it read
                                    (run id, stage, digest) -- the stage's lineage
    latest.json                     {stage: run_id}: one consistent chain of outputs
    latest/<partition>.json         the same per partition, for a partitioned journey (each
                                    partition's run is its own run, and its own chain)
    .lock                           serialises updates of the latest files between processes

A stage reads its upstream from its own run. Only a run that did not produce the upstream
(a Dagster run of a subset of the stages) reads it from ``latest``. Either way the frame read
must have the digest its writer recorded, or :class:`HandoffError` fails the stage closed.
Publishing stage S of run R replaces ``latest`` by S's lineage (what S read, and what that
read, back to the first stage) and drops the stages after S, which were computed from an
older S. Concurrent runs therefore never leave a ``latest`` whose stages disagree. A run whose
process died is discarded (:meth:`RunStore.discard`): its outputs, and those computed from them,
leave ``latest``, and its folder is removed.

The frame read is the frame written: object columns of strings keep None for missing values
(parquet alone would give them back as NaN in pandas' ``str`` dtype).
"""

from __future__ import annotations

import fcntl
import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from e2e_assets.errors import HandoffError, InfrastructureError
from e2e_assets.frames import (
    bytes_digest,
    file_digest,
    frame_digest,
    read_parquet_as_written,
    write_parquet_atomic,
)
from e2e_assets.results import write_json_atomic

KEEP_RUNS = 20  # finished runs' hand-off folders kept besides those ``latest`` points to
KEEP_SECONDS = 3600  # never prune a folder touched this recently (it may be a running run)


@dataclass(frozen=True)
class HandoffRef:
    """Which run wrote which stage's output, with its digest."""

    run_id: str
    stage: str
    data_digest: str
    rows: int
    # sha256 of the parquet file as written: a read checks the bytes (a fraction of a second)
    # rather than digesting a million rows' content again; None in records written before it
    file_digest: str | None = None


@dataclass(frozen=True)
class HandoffRecord:
    ref: HandoffRef
    input: HandoffRef | None  # what the stage read (None: the source)


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock between processes (released when the block ends)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class RunStore:
    """One run's view of a journey's stage store."""

    def __init__(self, base_dir: str | Path, journey: str, run_id: str,
                 stages: tuple[str, ...], partition: str | None = None) -> None:
        self.root = Path(base_dir) / journey
        self.journey, self.run_id, self.stages = journey, run_id, stages
        self.partition = partition

    @property
    def latest_path(self) -> Path:
        """The file naming this run's partition's latest outputs (the journey's, if none)."""
        if self.partition is None:
            return self.root / "latest.json"
        return self.root / "latest" / f"{self.partition}.json"

    def _latest_files(self) -> list[Path]:
        """Every partition's latest file, and the journey's."""
        folder = self.root / "latest"
        partitions = sorted(folder.glob("*.json")) if folder.is_dir() else []
        return [p for p in (self.root / "latest.json", *partitions) if p.is_file()]

    # -- paths -------------------------------------------------------------------------------
    def run_dir(self, run_id: str | None = None) -> Path:
        return self.root / "runs" / (run_id or self.run_id)

    def _files(self, run_id: str, stage: str) -> tuple[Path, Path]:
        folder = self.run_dir(run_id)
        return folder / f"{stage}.parquet", folder / f"{stage}.json"

    # -- writing -----------------------------------------------------------------------------
    def write(self, stage: str, frame: pd.DataFrame, read: HandoffRef | None, *,
              digest: str | None = None) -> HandoffRef:
        """Hand ``frame`` on from ``stage`` in this run; returns its reference. ``digest`` is
        the frame's :func:`frame_digest` when the caller has it already (a million-row frame
        takes seconds). Reads check the file's bytes against the digest recorded here."""
        data, record = self._files(self.run_id, stage)
        try:
            write_parquet_atomic(frame, data)
            ref = HandoffRef(self.run_id, stage, digest or frame_digest(frame), len(frame),
                             file_digest=file_digest(data))
            write_json_atomic({"ref": asdict(ref), "input": asdict(read) if read else None},
                              record)
        except OSError as exc:
            raise InfrastructureError(f"cannot write the hand-off of {self.journey}/{stage} "
                                      f"to {data.parent}: {exc}") from exc
        return ref

    # -- reading -----------------------------------------------------------------------------
    def record(self, run_id: str, stage: str) -> HandoffRecord | None:
        _, record = self._files(run_id, stage)
        if not record.is_file():
            return None
        raw = json.loads(record.read_text())
        return HandoffRecord(HandoffRef(**raw["ref"]),
                             HandoffRef(**raw["input"]) if raw["input"] else None)

    def read(self, ref: HandoffRef) -> pd.DataFrame:
        """The frame ``ref`` names, verified against the digest its writer recorded: the
        file's bytes, read once, checked and then parsed (a record without a file digest: the
        frame's content digest)."""
        data, _ = self._files(ref.run_id, ref.stage)
        try:
            raw = data.read_bytes()
            frame = read_parquet_as_written(raw)
        except (OSError, ValueError) as exc:
            raise HandoffError(f"the output of {self.journey}/{ref.stage} from run "
                               f"{ref.run_id} cannot be read at {data}: {exc}") from exc
        what, recorded = (("file digest", ref.file_digest) if ref.file_digest is not None
                          else ("digest", ref.data_digest))
        found = bytes_digest(raw) if ref.file_digest is not None else frame_digest(frame)
        if found != recorded:
            raise HandoffError(f"the output of {self.journey}/{ref.stage} from run {ref.run_id} "
                               f"changed after it was written: {what} {found[:19]}..., its "
                               f"writer recorded {recorded[:19]}... ({data})")
        return frame

    def upstream_ref(self, stage: str, *, planned: bool = True) -> HandoffRef:
        """What ``stage`` reads: its upstream's output from this run; from ``latest`` only if
        this run does not produce the upstream (``planned`` False)."""
        index = self.stages.index(stage)
        if index == 0:
            raise HandoffError(f"stage '{stage}' is the first stage: it reads the source")
        upstream = self.stages[index - 1]
        mine = self.record(self.run_id, upstream)
        if mine is not None:
            return mine.ref
        if planned:
            raise HandoffError(f"stage '{stage}' of run {self.run_id} found no output of "
                               f"'{upstream}' from the same run; refusing to read another "
                               f"run's")
        run_id = self.latest().get(upstream)
        record = self.record(run_id, upstream) if run_id else None
        if record is None:
            raise HandoffError(f"no stored output of {self.journey}/{upstream}: materialize "
                               f"that stage first")
        return record.ref

    def lineage(self, ref: HandoffRef) -> dict[str, HandoffRef]:
        """``ref`` and every output it was computed from, by stage."""
        chain: dict[str, HandoffRef] = {}
        current: HandoffRef | None = ref
        while current is not None and current.stage not in chain:
            chain[current.stage] = current
            record = self.record(current.run_id, current.stage)
            current = record.input if record else None
        return chain

    # -- latest ------------------------------------------------------------------------------
    def latest(self, path: Path | None = None) -> dict[str, str]:
        path = path or self.latest_path
        if not path.is_file():
            return {}
        return dict(json.loads(path.read_text())["stages"])

    def read_latest(self, stage: str) -> pd.DataFrame:
        run_id = self.latest().get(stage)
        record = self.record(run_id, stage) if run_id else None
        if record is None:
            raise InfrastructureError(f"no stored output of {self.journey}/{stage} under "
                                      f"{self.root}; materialize that stage first")
        return self.read(record.ref)

    def publish(self, ref: HandoffRef) -> dict[str, str]:
        """Make ``ref``'s lineage the journey's latest outputs (see the module docstring)."""
        with file_lock(self.root / ".lock"):
            chain = {stage: r.run_id for stage, r in self.lineage(ref).items()}
            latest = {s: chain[s] for s in self.stages if s in chain}
            write_json_atomic({"stages": latest, "published_by": self.run_id,
                               "published_at": time.time()}, self.latest_path)
            self._prune({run for path in self._latest_files()
                         for run in self.latest(path).values()})
        return latest

    def discard(self, run_id: str) -> None:
        """Forget a run that died: drop from ``latest`` every output it wrote or that was
        computed from one (what remains is still one consistent chain), then remove its
        hand-off folder. Stages of a dead run passed their checks and published as they went,
        so ``latest`` usually names it; keeping the folder for that would leave it forever."""
        with file_lock(self.root / ".lock"):
            for path in self._latest_files():  # whichever partition's chain it joined
                latest = self.latest(path)
                keep = {stage: rid for stage, rid in latest.items()
                        if run_id not in self._lineage_runs(rid, stage)}
                if keep != latest:
                    published = json.loads(path.read_text())
                    write_json_atomic({**published, "stages": keep, "discarded": run_id,
                                       "published_at": time.time()}, path)
            shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    def _lineage_runs(self, run_id: str, stage: str) -> set[str]:
        """The runs whose outputs ``stage`` of ``run_id`` was computed from (itself included)."""
        record = self.record(run_id, stage)
        if record is None:
            return {run_id}
        return {ref.run_id for ref in self.lineage(record.ref).values()}

    def _prune(self, keep: set[str]) -> None:
        runs = self.root / "runs"
        if not runs.is_dir():
            return
        folders = sorted((p for p in runs.iterdir() if p.is_dir()),
                         key=lambda p: p.stat().st_mtime, reverse=True)
        now = time.time()
        for folder in folders[KEEP_RUNS:]:
            if folder.name not in keep and folder.name != self.run_id \
                    and now - folder.stat().st_mtime > KEEP_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)


def stored_runs(base_dir: str | Path, journey: str) -> list[str]:
    folder = Path(base_dir) / journey / "runs"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


__all__ = ["HandoffRef", "RunStore", "file_lock", "stored_runs"]
