"""Operators' changes to flags and experiments: described for the log, written, seen at once."""

from __future__ import annotations

from dataclasses import replace

from bellyfed.dynamo import flags as storage
from bellyfed.dynamo.flags import Record, VersionConflict
from bellyfed.flags import reset_cache
from bellyfed.flags.evaluate import Flag

FIELDS = {
    "flag": ("enabled", "rollout", "users", "roles", "cities", "default", "description"),
    "experiment": ("enabled", "variants", "description"),
}


def kind_of(record: Record) -> str:
    """ "flag" or "experiment"."""
    return "flag" if isinstance(record, Flag) else "experiment"


def show(field: str, value: object) -> str:
    """One setting as an operator reads it: on/off, 30%, "admin, diner", "dish 50, craving 50"."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if field == "rollout":
        return f"{value}%"
    if field == "variants":
        return ", ".join(f"{v.name} {v.weight}" for v in value) or "none"  # type: ignore[attr-defined]
    if isinstance(value, frozenset):
        return ", ".join(sorted(map(str, value))) or "none"
    return f"“{value}”" if value else "none"


def describe(old: Record | None, new: Record) -> str:
    """What changed from ``old`` to ``new``, for the change log."""
    fields = FIELDS[kind_of(new)]
    if old is None:
        return "created: " + "; ".join(f"{f} {show(f, getattr(new, f))}" for f in fields)
    changed = [
        f"{f} {show(f, getattr(old, f))} → {show(f, getattr(new, f))}"
        for f in fields
        if getattr(old, f) != getattr(new, f)
    ]
    return "; ".join(changed) or "saved without changes"


def save(record: Record, who: str) -> Record:
    """Write ``record`` if the stored one is still ``record.version``; raises VersionConflict."""
    stored = storage.get(type(record), record.name)
    if (stored.version if stored else 0) != record.version:
        raise VersionConflict(stored)
    saved = storage.put(record, record.version, who, describe(stored, record))
    reset_cache()
    return saved


def toggle(kind: type, name: str, seen_version: int, who: str) -> Record | None:
    """Switch a flag or experiment on or off; None if there is no such thing."""
    stored = storage.get(kind, name)
    if stored is None:
        return None
    return save(replace(stored, enabled=not stored.enabled, version=seen_version), who)


def conflict_message(current: Record | None, noun: str, name: str, creating: bool) -> str:
    """What an operator needs to know when someone else got there first."""
    if current is None:
        return f"The {noun} “{name}” no longer exists."
    if creating:
        return f"A {noun} called “{name}” already exists (by {current.updated_by})."
    return (
        f"{current.updated_by} changed “{name}” at {current.updated_at} (now version "
        f"{current.version}) after you opened it. Nothing was saved. The form shows your "
        "values: check them against the change log and save again to replace theirs."
    )
