"""``manifest.json``: what a backup holds, and the checks that a copy of it is intact."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bellyfed.backup import BackupError, dynamo, postgres
from bellyfed.backup.location import MANIFEST

FORMAT = 1


def file_entry(path: Path) -> dict[str, Any]:
    """Size and SHA-256 of one file."""
    sha = hashlib.sha256()
    with path.open("rb") as data:
        for chunk in iter(lambda: data.read(1 << 20), b""):
            sha.update(chunk)
    return {"bytes": path.stat().st_size, "sha256": sha.hexdigest()}


def write(root: Path, manifest: dict[str, Any]) -> None:
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def read(root: Path) -> dict[str, Any]:
    """The manifest of a backup directory; BackupError if it is missing or not one of ours."""
    path = root / MANIFEST
    if not path.is_file():
        raise BackupError(
            f"Not a complete backup: {MANIFEST} is missing (an interrupted upload "
            "or the wrong location?)."
        )
    try:
        manifest = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{MANIFEST} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{MANIFEST} is not a Bellyfed backup manifest (format {FORMAT}).")
    _check_shape(manifest)
    return manifest


TYPE_NAMES = {int: "number", str: "string", dict: "mapping"}
# Every field later code reads, and its type: {section: {field: type}} per entry of each section.
ENTRY_FIELDS = {
    ("postgres", "tables"): {"rows": int, "checksum": str},
    ("dynamodb", "tables"): {"table": str, "file": str, "items": int, "checksum": str},
    ("files",): {"bytes": int, "sha256": str},
}


def _check_shape(manifest: dict[str, Any]) -> None:
    def need(value: Any, kind: type, where: str) -> Any:
        if not isinstance(value, kind) or isinstance(value, bool):
            raise BackupError(
                f"{MANIFEST} is incomplete or was edited: {where} is missing or "
                f"not a {TYPE_NAMES[kind]}."
            )
        return value

    need(manifest.get("created_at"), str, "created_at")
    need(
        need(manifest.get("postgres"), dict, "postgres").get("pg_dump_major"),
        int,
        "postgres.pg_dump_major",
    )
    for path, fields in ENTRY_FIELDS.items():
        section: Any = manifest
        for part in path:
            section = need(section.get(part), dict, ".".join(path))
        for name, entry in section.items():
            for field_name, kind in fields.items():
                where = f"{'.'.join(path)}[{name!r}].{field_name}"
                need(need(entry, dict, where).get(field_name), kind, where)


@dataclass
class Report:
    """One line per file checked; ``problems`` names the files that failed."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def ok(self, name: str, detail: str) -> None:
        self.lines.append(f"  ok        {name}: {detail}")

    def bad(self, name: str, detail: str) -> None:
        self.lines.append(f"  MISMATCH  {name}: {detail}")
        self.problems.append(name)


def verify(root: Path, manifest: dict[str, Any], pg_restore: str | None) -> Report:
    """Check every listed file: present, size, SHA-256; item lines and checksums; the dump."""
    report = Report()
    files = manifest.get("files", {})
    tables = {t["file"]: t for t in manifest.get("dynamodb", {}).get("tables", {}).values()}
    for name, expected in sorted(files.items()):
        path = root / name
        if not path.is_file():
            report.bad(name, "missing")
            continue
        actual = file_entry(path)
        if actual["bytes"] != expected["bytes"]:
            report.bad(name, f"{actual['bytes']} bytes, the manifest says {expected['bytes']}")
        elif actual["sha256"] != expected["sha256"]:
            report.bad(name, "SHA-256 differs from the manifest (the file was changed)")
        elif name in tables:
            _check_items(report, path, name, tables[name])
        elif name == postgres.DUMP_FILE and pg_restore:
            try:
                entries = postgres.list_archive(pg_restore, path)
            except BackupError as exc:
                report.bad(name, f"pg_restore --list cannot read it: {exc}")
            else:
                report.ok(name, f"{actual['bytes']:,} bytes, pg_restore --list: {entries} entries")
        else:
            report.ok(name, f"{actual['bytes']:,} bytes, SHA-256 matches")
    for name in sorted(set(tables) - set(files)):
        report.bad(name, "listed as a table export but has no size or SHA-256 in the manifest")
    if postgres.DUMP_FILE not in files:
        report.bad(postgres.DUMP_FILE, "not listed in the manifest")
    return report


def _check_items(report: Report, path: Path, name: str, table: dict[str, Any]) -> None:
    with path.open("rb") as data:
        lines = sum(1 for _ in data)
    if lines != table["items"]:
        report.bad(name, f"{lines} lines, the manifest says {table['items']} items")
        return
    try:
        checksum = dynamo.file_checksum(path)
    except BackupError as exc:
        report.bad(name, str(exc))
        return
    if checksum.hex != table["checksum"]:
        report.bad(name, "item checksum differs from the manifest")
    else:
        report.ok(name, f"{lines:,} items, SHA-256 and item checksum match")
