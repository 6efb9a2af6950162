"""Moving one kind of data from one store to the other: extract in batches, transform, load,
checkpoint, validate. Each kind and direction is a ``Mover``; ``run_move`` and ``validate``
drive any of them the same way.
"""

from __future__ import annotations

import hashlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bellyfed.data import checkpoints
from bellyfed.data.models import MoveCheckpoint
from bellyfed.extensions import db

LIST_LIMIT = 50  # mismatches and rejects kept by name; the rest are counted


@dataclass(frozen=True)
class Record:
    """One unit of data in its store-neutral shape: a readable key and JSON-able fields."""

    key: str
    fields: dict[str, Any]

    @property
    def digest(self) -> bytes:
        """SHA-256 of the canonical JSON of the fields: equal in both stores or not at all."""
        canonical = json.dumps(self.fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).digest()


class Rejected(Exception):
    """A source item that cannot be moved (unparseable, or its owner is gone)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key, self.reason = key, reason


@dataclass(frozen=True)
class Expected:
    """A source item the move leaves out on purpose (``record`` None: e.g. its user is gone) or
    loads changed (``record``: what the target should hold, e.g. without deleted cuisines).
    Validation lists it and does not count it as a failure."""

    key: str
    reason: str
    record: Record | None = None


Compared = Record | Expected | Rejected  # what source_records yields (Rejected: unreadable)


@dataclass
class Batch:
    """What one extract returned: raw items, where the next batch starts (None: that was the
    last), and how many source items were examined (the progress unit)."""

    items: list[Any]
    next_position: Any
    examined: int


class Mover(ABC):
    """One kind of data in one direction. Loads must be idempotent: a replayed batch is normal."""

    kind: str
    source: str
    target: str
    force: bool = False  # set by ``--force``: run where notes() would otherwise refuse

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.source}->{self.target}"

    def estimate(self) -> int:
        """About how many source items a full run examines (for the progress bar)."""
        return 0

    def notes(self) -> list[str]:
        """Warnings worth reading before a run (e.g. the service switch is in the wrong mode);
        raises if the run must not happen at all."""
        return []

    def summary(self) -> list[str]:
        """Anything the run noticed that the counts don't say (read after the last batch)."""
        return []

    @abstractmethod
    def extract(self, position: Any, size: int) -> Batch:
        """The batch starting at ``position`` (None: the beginning)."""

    @abstractmethod
    def transform(self, raw: Any) -> Record:
        """The record a raw source item becomes; Rejected if it cannot."""

    @abstractmethod
    def load(self, records: list[Record]) -> list[Rejected]:
        """Write the records to the target (PostgreSQL: without committing); those refused."""

    @abstractmethod
    def source_records(self) -> Iterator[Compared]:
        """Every source item as the move would load it (for validation): a Record, Expected
        where the move leaves it out or changes it on purpose, Rejected if it is unreadable."""

    @abstractmethod
    def target_records(self) -> Iterator[Record | Rejected]:
        """Every item in the target (for validation); Rejected if it is unreadable."""


@dataclass
class MoveReport:
    """What a run did; totals include earlier runs when it resumed."""

    name: str
    dry_run: bool
    read: int = 0
    written: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    rejected_count: int = 0
    batches: int = 0
    resumed_after_batch: int | None = None
    total_batches: int = 0
    total_written: int = 0
    seconds: float = 0.0
    nothing_to_do: bool = False
    warnings: list[str] = field(default_factory=list)  # the mover's, before the run
    notes: list[str] = field(default_factory=list)  # what the run noticed

    def reject(self, rejected: Rejected) -> None:
        self.rejected_count += 1
        if len(self.rejected) < LIST_LIMIT:
            self.rejected.append(rejected)


def run_move(
    mover: Mover,
    *,
    batch_size: int = 500,
    dry_run: bool = False,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
    after_batch: Callable[[int], None] | None = None,
) -> MoveReport:
    """Move everything (from the checkpoint with ``resume``); ``dry_run`` writes nothing at all.

    ``after_batch(n)`` runs once batch ``n`` and its checkpoint are committed (tests interrupt
    a run there).
    """
    report = MoveReport(mover.name, dry_run=dry_run, warnings=mover.notes())
    began = time.monotonic()
    checkpoint = _starting_point(mover.name, report, resume=resume, dry_run=dry_run)
    if report.nothing_to_do:
        return report
    position = checkpoint.position if checkpoint is not None else None
    try:
        while True:
            batch = mover.extract(position, batch_size)
            records = _transform(mover, batch.items, report)
            if dry_run:
                report.written += len(records)
            else:
                refused = mover.load(records)
                for rejected in refused:
                    report.reject(rejected)
                written = len(records) - len(refused)
                report.written += written
                report.total_written += written
                checkpoints.advance(checkpoint, batch.next_position, written)
                if batch.next_position is None:
                    checkpoints.finish(checkpoint)  # in the same commit as the last batch
                db.session.commit()
            report.batches += 1
            report.total_batches += 1
            if progress:
                progress(batch.examined)
            if after_batch:
                after_batch(report.total_batches)
            position = batch.next_position
            if position is None:
                break
        report.notes += mover.summary()
    except BaseException:
        db.session.rollback()  # an unfinished batch leaves nothing behind in PostgreSQL
        raise
    finally:
        report.seconds = time.monotonic() - began
    return report


def _starting_point(
    name: str, report: MoveReport, *, resume: bool, dry_run: bool
) -> MoveCheckpoint | None:
    """The checkpoint to continue from (resume) or a fresh one; None in a dry run from zero."""
    checkpoint = checkpoints.load(name)
    if resume and checkpoint is not None and checkpoint.finished_at is not None:
        report.nothing_to_do = True
        finished = f"{checkpoint.finished_at:%Y-%m-%d %H:%M:%S} UTC"
        report.notes.append(f"The last run finished at {finished}; nothing to resume.")
        return checkpoint
    if resume and checkpoint is not None:
        report.resumed_after_batch = report.total_batches = checkpoint.batches
        report.total_written = checkpoint.records
        return checkpoint
    if resume:
        report.notes.append("No checkpoint to resume from: starting at the beginning.")
    elif checkpoint is not None and checkpoint.finished_at is None and not dry_run:
        report.notes.append(
            f"An unfinished run stopped after batch {checkpoint.batches}; "
            "starting over (--resume would continue it)."
        )
    if dry_run:
        db.session.rollback()  # nothing of ours stays open
        return None
    checkpoint = checkpoints.start(name)
    db.session.commit()
    return checkpoint


def _transform(mover: Mover, items: list[Any], report: MoveReport) -> list[Record]:
    records = []
    for raw in items:
        try:
            records.append(mover.transform(raw))
        except Rejected as rejected:
            report.reject(rejected)
    report.read += len(items)
    return records


@dataclass
class Validation:
    """Source and target compared record by record."""

    name: str
    source_count: int = 0
    target_count: int = 0
    matching: int = 0
    missing: list[str] = field(default_factory=list)  # in the source, not in the target
    extra: list[str] = field(default_factory=list)  # in the target, not in the source
    different: list[tuple[str, str, str]] = field(default_factory=list)  # key, checksums
    unreadable: list[tuple[str, str, str]] = field(default_factory=list)  # side, key, reason
    expected: list[tuple[str, str]] = field(default_factory=list)  # key, reason: not a failure
    missing_count: int = 0
    extra_count: int = 0
    different_count: int = 0
    unreadable_count: int = 0
    expected_count: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.missing_count or self.extra_count or self.different_count or self.unreadable_count
        )

    def unreadable_item(self, side: str, rejected: Rejected) -> None:
        self.unreadable_count += 1
        _keep(self.unreadable, (side, rejected.key, rejected.reason))


def validate(mover: Mover) -> Validation:
    """Counts and per-record SHA-256 of both sides; every mismatch counted, the first listed.

    Source items the move leaves out or changes on purpose are listed as expected; unreadable
    items on either side are failures (they never moved, or cannot be checked).
    Holds one digest per source record in memory (about 100 bytes each: ~100 MB per million).
    """
    result = Validation(mover.name)
    expected: dict[str, bytes] = {}
    for item in mover.source_records():
        result.source_count += 1
        if isinstance(item, Rejected):
            result.unreadable_item(mover.source, item)
            continue
        if isinstance(item, Expected):
            result.expected_count += 1
            _keep(result.expected, (item.key, item.reason))
            if item.record is None:
                continue
            item = item.record
        expected[item.key] = item.digest
    for record in mover.target_records():
        result.target_count += 1
        if isinstance(record, Rejected):
            result.unreadable_item(mover.target, record)
            continue
        digest = expected.pop(record.key, None)
        if digest is None:
            result.extra_count += 1
            _keep(result.extra, record.key)
        elif digest != record.digest:
            result.different_count += 1
            _keep(result.different, (record.key, digest.hex()[:12], record.digest.hex()[:12]))
        else:
            result.matching += 1
    result.missing_count = len(expected)
    result.missing = sorted(expected)[:LIST_LIMIT]
    db.session.rollback()  # reads only; don't leave a transaction open
    return result


def _keep(bucket: list[Any], item: Any) -> None:
    if len(bucket) < LIST_LIMIT:
        bucket.append(item)
