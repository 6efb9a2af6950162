"""``flask cost report``: DynamoDB usage over a period, what a month of it costs in each
capacity mode, and the mode the database strategy recommends.

Usage is what the app consumed (``bellyfed/ops/capacity.py``: units per table, operation and
hour), over whole hours that have ended (the current hour is left out until it ends: a partial
hour would count as a full one), for this app's tables (``DYNAMODB_TABLE_PREFIX``) unless
``--all-tables``. Monthly figures extrapolate the period to 730 hours. Provisioned capacity is
what target tracking at ``DYNAMODB_AUTOSCALING_TARGET`` would hold: each hour's average rate /
target, never under the minimum units (``bellyfed/dynamo/scaling.py``), plus the minimum for each
index. Hourly buckets hide bursts inside an hour: the real peak per second is higher than the
peak hour's.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import redis
from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app
from flask.cli import AppGroup

from bellyfed.dynamo import resource, table_name
from bellyfed.dynamo.scaling import CapacityError, CapacityPlan, capacity_plan
from bellyfed.dynamo.tables import TABLES
from bellyfed.ops import capacity

cost_cli = AppGroup("cost", help="DynamoDB usage and cost.")

HOUR = timedelta(hours=1)
HOURS_PER_MONTH = 730
# The strategy (docs/dynamodb.md, "Capacity and cost"): on-demand while traffic is unpredictable,
# provisioned with auto-scaling once it is predictable: three days seen at least, and the busiest
# hour at most 3x the average hour (a daily cycle that auto-scaling follows, not bursts).
MIN_STEADY_HOURS = 72
STEADY_PEAK_RATIO = 3.0
# USD, standard table class, ap-southeast-1 (Singapore) list prices; each is a setting.
PRICES = {
    "read_per_million": ("DYNAMODB_PRICE_READ_PER_MILLION", 0.1425),
    "write_per_million": ("DYNAMODB_PRICE_WRITE_PER_MILLION", 0.7115),
    "rcu_hour": ("DYNAMODB_PRICE_RCU_HOUR", 0.000148),
    "wcu_hour": ("DYNAMODB_PRICE_WCU_HOUR", 0.00074),
    "storage_gb_month": ("DYNAMODB_PRICE_STORAGE_GB_MONTH", 0.285),
}


def resolve_period(
    days: int | None, since: str | None, until: str | None, now: datetime
) -> tuple[datetime, datetime]:
    """Whole UTC hours that have ended, ``[start, end)``: the last ``days`` (7) up to the start
    of the current hour, or ``since``-``until`` (default now) widened to whole hours and cut at
    the start of the current hour. Bad options raise UsageError."""
    if days is not None and (since or until):
        raise click.UsageError("Use --days or --since/--until, not both.")
    if until and not since:
        raise click.UsageError("--until needs --since.")
    this_hour = _hour(now)
    if since:
        start, end = _instant(since, "--since"), _instant(until, "--until") if until else now
        if start >= now:
            raise click.UsageError(f"--since ({start:%Y-%m-%d %H:%M} UTC) is in the future.")
        if end <= start:
            raise click.UsageError(f"--until ({end:%Y-%m-%d %H:%M}) must be after --since.")
        end = min(end, now)
        start, end = _hour(start), _hour(end) + (HOUR if end != _hour(end) else timedelta())
        end = min(end, this_hour)
        if end <= start:
            raise click.UsageError(
                f"--since ({start:%Y-%m-%d %H:00} UTC) leaves no whole hour that has ended: "
                f"the report counts whole hours, and this one ends at {this_hour + HOUR:%H:00} UTC."
            )
    else:
        days = 7 if days is None else days
        if not 1 <= days <= capacity.KEEP_DAYS:
            raise click.UsageError(f"--days must be 1 to {capacity.KEEP_DAYS}, not {days}.")
        end = this_hour
        start = end - timedelta(days=days)
    if start < this_hour - timedelta(days=capacity.KEEP_DAYS):
        raise click.UsageError(f"Usage is kept {capacity.KEEP_DAYS} days: --since is too early.")
    return start, end


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _instant(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.UsageError(f"{option} must be an ISO date or time, not {text!r}.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def build_report(start: datetime, end: datetime, all_tables: bool = False) -> dict[str, Any]:
    """Per table: units, rates, a month's cost in each mode, storage, the recommendation. Only
    this app's tables (``DYNAMODB_TABLE_PREFIX``) unless ``all_tables``: other apps may record
    into the same Redis."""
    plan, prices = capacity_plan(), _prices()
    prefix = current_app.config["DYNAMODB_TABLE_PREFIX"]
    hours = int((end - start) / HOUR)
    hourly = [capacity.usage(start + i * HOUR, start + (i + 1) * HOUR) for i in range(hours)]
    everything = {name for usage in hourly for name in usage}
    recorded = {name for name in everything if all_tables or name.startswith(prefix)}
    if not recorded:
        others = (
            f" {len(everything)} other table(s) not starting with {prefix!r} have usage: "
            "--all-tables includes them."
            if everything
            else ""
        )
        raise click.ClickException(
            f"No DynamoDB usage recorded from {start:%Y-%m-%d %H:00} to {end:%Y-%m-%d %H:00} UTC "
            f"(whole hours; the current one counts once it ends).{others} "
            "The app records what its DynamoDB calls consume (in Redis, kept "
            f"{capacity.KEEP_DAYS} days) while it serves requests and runs its worker: run it "
            "(make run), use it, then report again, or pick a period when it ran."
        )
    indexes = {table_name(name): int("index" in spec) for name, spec in TABLES.items()}
    facts = _table_facts(sorted(recorded | set(indexes)))
    # The app's tables count even when idle: provisioned, they would still pay their minimum.
    names = sorted(recorded | (set(indexes) & set(facts)))
    tables = [
        _table_row(name, hourly, indexes.get(name, 0), facts.get(name, {}), prices, plan)
        for name in names
    ]
    totals = {
        key: sum(row[key] or 0 for row in tables)
        for key in ("on_demand", "provisioned", "provisioned_at_peak", "storage")
    }
    better = [row["table"] for row in tables if row["recommendation"] == "on-demand"]
    return {
        "period": {"since": start.isoformat(), "until": end.isoformat(), "hours": hours},
        "tables_shown": "all recorded" if all_tables else f"{prefix}*",
        "extrapolation": HOURS_PER_MONTH / hours,
        "prices_usd": prices,
        "target_utilisation": plan.target,
        "min_units": {"read": plan.min_units[0], "write": plan.min_units[1]},
        "configured": plan.mode,
        "tables": tables,
        "monthly_totals": totals,
        # DYNAMODB_CAPACITY is one mode for every table: provisioned only if every table gains.
        "recommendation": "on-demand" if better else "provisioned",
        "better_on_demand": better,
    }


def _prices() -> dict[str, float]:
    prices = {}
    for key, (name, default) in PRICES.items():
        value = current_app.config.get(name, default)
        try:
            prices[key] = float(value)
        except (TypeError, ValueError):
            prices[key] = -1.0
        if prices[key] < 0:
            raise click.ClickException(f"{name} must be a price in USD (0 or more), not {value!r}.")
    return prices


def _table_facts(names: list[str]) -> dict[str, dict[str, Any]]:
    """Billing mode and TableSizeBytes (AWS refreshes it about every 6 h; moto says 0) of the
    tables that exist. An unreachable DynamoDB leaves them unknown instead of failing."""
    client, facts = resource().meta.client, {}
    for name in names:
        try:
            info = client.describe_table(TableName=name)["Table"]
        except ClientError:
            continue
        except BotoCoreError:
            break
        billing = info.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
        facts[name] = {"billing": billing, "bytes": info.get("TableSizeBytes", 0)}
    return facts


def _table_row(name: str, hourly: list[dict], indexes: int, facts: dict[str, Any],
               prices: dict[str, float], plan: CapacityPlan) -> dict[str, Any]:  # fmt: skip
    hours, scale = len(hourly), HOURS_PER_MONTH / len(hourly)
    row: dict[str, Any] = {"table": name, "billing_now": facts.get("billing"), "indexes": indexes}
    operations: dict[str, float] = {}
    for usage in hourly:
        for key, units in usage.get(name, {}).items():
            if "." in key:  # "<operation>.read" / ".write"; plain "read" / "write" are totals
                operations[key] = operations.get(key, 0.0) + units
    row["operations"] = dict(sorted(operations.items(), key=lambda item: -item[1]))
    row["on_demand"] = row["provisioned"] = row["provisioned_at_peak"] = 0.0
    for kind, minimum in zip(("read", "write"), plan.min_units, strict=True):
        per_hour = [usage.get(name, {}).get(kind, 0.0) for usage in hourly]
        total, peak = sum(per_hour), max(per_hour) / 3600
        average = total / (hours * 3600)
        # Target tracking holds consumed / provisioned near the target, never under the minimum.
        unit_hours = sum(max(minimum, _units(units / 3600, plan.target)) for units in per_hour)
        at_peak = max(minimum, _units(peak, plan.target))
        unit_price = prices[f"{kind[0]}cu_hour"]
        index_floor = indexes * minimum * HOURS_PER_MONTH * unit_price
        row["on_demand"] += total * scale / 1e6 * prices[f"{kind}_per_million"]
        row["provisioned"] += unit_hours * scale * unit_price + index_floor
        row["provisioned_at_peak"] += at_peak * HOURS_PER_MONTH * unit_price + index_floor
        row[kind] = {"units": total, "average_per_second": average, "peak_per_second": peak,
                     "peak_to_average": peak / average if average else None,
                     "units_at_peak": at_peak}  # fmt: skip
    size = facts.get("bytes")
    row["storage_bytes"] = size
    row["storage"] = None if size is None else size / 1e9 * prices["storage_gb_month"]
    # History: from the first hour with recorded usage to the end of the period (a table first
    # used yesterday is young however long the period is).
    table_hours = [usage.get(name, {}) for usage in hourly]
    used = [i for i, usage in enumerate(table_hours) if usage.get("read") or usage.get("write")]
    row["history_hours"] = hours - used[0] if used else 0
    row["recommendation"], row["reasons"] = recommend(row, row["history_hours"])
    return row


def _units(rate: float, target_percent: float) -> int:
    """Units that serve ``rate`` per second at the target utilisation (0.7 / 70% is 1, not 2)."""
    return math.ceil(round(rate * 100 / target_percent, 9))


def recommend(row: dict[str, Any], hours: int) -> tuple[str, list[str]]:
    """The strategy's rule for one table, and the facts it rests on; ``hours`` of history: from
    its first hour with recorded usage to the end of the period."""
    if not row["read"]["units"] and not row["write"]["units"]:
        return "on-demand", ["no traffic: idle on-demand costs nothing, provisioned its minimum"]
    young = hours < MIN_STEADY_HOURS
    ratios = {kind: row[kind]["peak_to_average"] for kind in ("read", "write")}
    ratios = {kind: ratio for kind, ratio in ratios.items() if ratio is not None}
    spiky = any(ratio > STEADY_PEAK_RATIO for ratio in ratios.values())
    cheaper = row["provisioned"] < row["on_demand"]
    busiest = ", ".join(f"{kind}s {ratio:.1f}x" for kind, ratio in ratios.items())
    limit = f"{STEADY_PEAK_RATIO:g}x"
    reasons = [
        f"{hours} h of history" + (f" (under {MIN_STEADY_HOURS} h: too young)" if young else ""),
        f"busiest hour / average: {busiest}: "
        + (f"spiky (over {limit})" if spiky else f"steady (within {limit})"),
        f"a month on-demand {_money(row['on_demand'])} vs provisioned with auto-scaling "
        f"{_money(row['provisioned'])}: {'provisioned' if cheaper else 'on-demand'} is cheaper",
    ]
    return ("on-demand" if young or spiky or not cheaper else "provisioned"), reasons


def _money(amount: float | None) -> str:
    if amount is None:
        return "unknown"
    return f"${amount:.4f}" if 0 < amount < 0.01 else f"${amount:,.2f}"


def render_text(report: dict[str, Any]) -> str:
    """The report for people: a header, a block per table, the totals and the advice."""
    period, prices, low = report["period"], report["prices_usd"], report["min_units"]
    lines = [
        f"DynamoDB usage {period['since'][:16]} to {period['until'][:16]} UTC, {period['hours']} h"
        " (whole hours: the current one counts once it ends)."
        f" A month = this period x {report['extrapolation']:.2f} (730 h), extrapolated."
        f" Tables: {report['tables_shown']}.",
        "Prices, USD (defaults: AWS list prices, ap-southeast-1, standard table; DYNAMODB_PRICE_*):"
        f" on-demand {prices['read_per_million']:g}/M reads, {prices['write_per_million']:g}/M"
        f" writes; provisioned {prices['rcu_hour']:g}/RCU-h, {prices['wcu_hour']:g}/WCU-h;"
        f" storage {prices['storage_gb_month']:g}/GB-month.",
        f"Provisioned: auto-scaled at {report['target_utilisation']:g}% utilisation, at least"
        f" {low['read']} RCU / {low['write']} WCU on the table and on each index. Hourly figures"
        " are the hour's average: bursts within an hour go higher.",
    ]  # fmt: skip
    for row in report["tables"]:
        lines += ["", f"{row['table']} (now {_billing(row['billing_now'])})"]
        for kind in ("read", "write"):
            use, ratio = row[kind], row[kind]["peak_to_average"]
            lines.append(
                f"  {kind:5} {use['units']:>14,.1f} units, {use['average_per_second']:.3f}/s"
                f" average, {use['peak_per_second']:.3f}/s busiest hour"
                + (f" ({ratio:.1f}x average)" if ratio is not None else "")
                + f", which needs {use['units_at_peak']} {kind[0].upper()}CU"
            )
        if row["operations"]:
            top = list(row["operations"].items())[:6]
            lines.append("  by operation: " + ", ".join(f"{op} {n:,.1f}" for op, n in top))
        size = "" if row["storage_bytes"] is None else f"{row['storage_bytes'] / 1e9:.3f} GB "
        lines.append(
            f"  a month: on-demand {_money(row['on_demand'])}; provisioned auto-scaled"
            f" {_money(row['provisioned'])}, fixed for the busiest hour"
            f" {_money(row['provisioned_at_peak'])}; storage {size}{_money(row['storage'])}"
        )  # fmt: skip
        lines.append(f"  -> {row['recommendation']}: " + "; ".join(row["reasons"]))
    totals = report["monthly_totals"]
    if report["recommendation"] == "provisioned":
        advice = "provisioned with auto-scaling: DYNAMODB_CAPACITY=provisioned, then"
        advice += " flask dynamo apply-capacity"
    else:
        advice = f"on-demand, the better mode for {', '.join(report['better_on_demand'])}"
        advice += " (DYNAMODB_CAPACITY is one mode for every table)"
    lines += [
        "",
        f"All tables, a month: on-demand {_money(totals['on_demand'])}; provisioned auto-scaled"
        f" {_money(totals['provisioned'])}, fixed for the busiest hour"
        f" {_money(totals['provisioned_at_peak'])}; storage {_money(totals['storage'])}.",
        f"Recommendation: {advice}. Configured now: {report['configured']}.",
    ]  # fmt: skip
    return "\n".join(lines)


def _billing(billing: str | None) -> str:
    names = {"PAY_PER_REQUEST": "on-demand", "PROVISIONED": "provisioned"}
    return names.get(billing or "", "unknown: no such table here")


@cost_cli.command("report")
@click.option("--days", type=int, help="The last N days, up to the start of this hour (default 7).")
@click.option("--since", help="Start: ISO date or time, UTC unless it says otherwise.")
@click.option("--until", help="End: ISO date or time (default now).")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "--all-tables",
    is_flag=True,
    help="Also tables not starting with DYNAMODB_TABLE_PREFIX recorded in the same Redis.",
)
def report_command(
    days: int | None, since: str | None, until: str | None, output: str, all_tables: bool
) -> None:
    """Per table: consumed units, a month's cost on-demand and provisioned, and which to use."""
    start, end = resolve_period(days, since, until, datetime.now(UTC))
    try:
        report = build_report(start, end, all_tables)
    except CapacityError as exc:
        raise click.ClickException(str(exc)) from exc
    except redis.RedisError as exc:
        raise click.ClickException(f"Cannot read the recorded usage from Redis: {exc}") from exc
    click.echo(json.dumps(report, indent=2) if output == "json" else render_text(report))
