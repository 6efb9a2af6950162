"""Capacity settings and what a table needs to match them: billing mode, auto-scaling, PITR.

``capacity_plan()`` reads and checks the settings (``DYNAMODB_CAPACITY``,
``DYNAMODB_PROVISIONED_UNITS``, ``DYNAMODB_AUTOSCALING*``, ``DYNAMODB_PITR``);
``table_actions()`` compares one table with them and returns the changes as ``Action``s, so
``flask dynamo apply-capacity --dry-run`` can print them without making them. A billing-mode
switch and the auto-scaling changes that go with it are marked ``switch``: the command makes them
only when confirmed. Provisioned units are never lowered (a busy table would be throttled).
Auto-scaling is Application Auto Scaling target tracking of reads and writes on the table and
on each index (resource ids ``table/<name>`` and ``table/<name>/index/<index>``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import boto3
from botocore.exceptions import ClientError
from flask import current_app

from bellyfed.dynamo import CLIENT_CONFIG

KINDS = ("read", "write")
MODE_NAMES = {"PROVISIONED": "provisioned", "PAY_PER_REQUEST": "on-demand"}
POLICY_NAME = "bellyfed-{kind}-utilisation"


class Action(NamedTuple):
    """One change to a table: what it is, the call that makes it, and whether it belongs to a
    billing-mode switch (``flask dynamo apply-capacity`` makes those only with ``--yes``)."""

    description: str
    call: Callable[[], Any]
    switch: bool = False


class Scalable(NamedTuple):
    """A table or index as Application Auto Scaling names it."""

    resource_id: str  # "table/<name>" | "table/<name>/index/<index>"
    level: str  # "table" | "index"
    label: str


class CapacityError(ValueError):
    """A capacity setting that cannot be applied; the message names it and says why."""


@dataclass(frozen=True)
class CapacityPlan:
    """What the configuration asks of every table (read once per command by ``capacity_plan``)."""

    mode: str  # "on-demand" | "provisioned"
    units: tuple[int, int]  # (read, write): a new provisioned table's units
    autoscaling: bool
    min_units: tuple[int, int]
    max_units: tuple[int, int]
    target: float  # percent utilisation that target tracking keeps
    pitr: bool

    @property
    def billing(self) -> str:
        return "PROVISIONED" if self.mode == "provisioned" else "PAY_PER_REQUEST"


def restore_plan() -> CapacityPlan:
    """What a restore creates missing tables with: on-demand, so a bulk import is not throttled
    (``flask dynamo apply-capacity`` gives them the configured capacity afterwards); PITR as
    configured."""
    return CapacityPlan(
        mode="on-demand",
        units=(5, 5),
        autoscaling=False,
        min_units=(5, 5),
        max_units=(5, 5),
        target=70.0,
        pitr=_flag("DYNAMODB_PITR", True),
    )


def capacity_plan() -> CapacityPlan:
    """The capacity settings, checked (``CapacityError`` names a bad one)."""
    mode = str(current_app.config.get("DYNAMODB_CAPACITY", "on-demand")).strip().lower()
    if mode not in ("on-demand", "provisioned"):
        raise CapacityError(f"DYNAMODB_CAPACITY must be on-demand or provisioned, not {mode!r}.")
    units = _units("DYNAMODB_PROVISIONED_UNITS", (5, 5))
    plan = CapacityPlan(
        mode=mode,
        units=units,
        autoscaling=_flag("DYNAMODB_AUTOSCALING", True),
        min_units=_units("DYNAMODB_AUTOSCALING_MIN_UNITS", units),
        max_units=_units("DYNAMODB_AUTOSCALING_MAX_UNITS", (100, 100)),
        target=_number("DYNAMODB_AUTOSCALING_TARGET", 70.0),
        pitr=_flag("DYNAMODB_PITR", True),
    )
    if not 20 <= plan.target <= 90:  # the range Application Auto Scaling accepts for DynamoDB
        raise CapacityError(f"DYNAMODB_AUTOSCALING_TARGET must be 20-90 (%), not {plan.target:g}.")
    for kind, low, start, high in zip(KINDS, plan.min_units, units, plan.max_units, strict=True):
        if plan.autoscaling and not low <= start <= high:
            raise CapacityError(
                f"{kind} units: need DYNAMODB_AUTOSCALING_MIN_UNITS ({low}) <= "
                f"DYNAMODB_PROVISIONED_UNITS ({start}) <= DYNAMODB_AUTOSCALING_MAX_UNITS ({high})."
            )
    return plan


def _units(name: str, default: tuple[int, int]) -> tuple[int, int]:
    """``"5,10"``, ``"5"``, ``5`` or ``(5, 10)`` as (read, write)."""
    value = current_app.config.get(name, default)
    parts = value.split(",") if isinstance(value, str) else value
    try:
        numbers = tuple(int(part) for part in ([parts] if isinstance(parts, int) else parts))
    except (TypeError, ValueError):
        numbers = ()
    if len(numbers) == 1:
        numbers = numbers * 2
    if len(numbers) != 2 or min(numbers) < 1:
        raise CapacityError(f"{name} must be read,write units of 1 or more (5,5), not {value!r}.")
    return numbers[0], numbers[1]


def _flag(name: str, default: bool) -> bool:
    value = current_app.config.get(name, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise CapacityError(f"{name} must be on or off (1/0), not {value!r}.")


def _number(name: str, default: float) -> float:
    value = current_app.config.get(name, default)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise CapacityError(f"{name} must be a number, not {value!r}.") from None


def throughput(units: tuple[int, int]) -> dict[str, int]:
    """(read, write) as DynamoDB's ``ProvisionedThroughput``."""
    return {"ReadCapacityUnits": units[0], "WriteCapacityUnits": units[1]}


def autoscaling() -> Any:
    """The app's Application Auto Scaling client, built on first use. Its endpoint is
    ``AWS_ENDPOINT_URL_APPLICATION_AUTOSCALING``, else DynamoDB's (moto serves both on one port)."""
    cached = current_app.extensions.get("application-autoscaling")
    if cached is None:
        config = current_app.config
        cached = boto3.client(
            "application-autoscaling",
            region_name=config["AWS_REGION"],
            endpoint_url=config.get("AWS_ENDPOINT_URL_APPLICATION_AUTOSCALING")
            or config["AWS_ENDPOINT_URL_DYNAMODB"],
            config=CLIENT_CONFIG,
        )
        current_app.extensions["application-autoscaling"] = cached
    return cached


def wait_active(client: Any, name: str) -> None:
    """Wait until the table is ACTIVE again (moto: at once; AWS: seconds to minutes)."""
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 5})


def table_actions(client: Any, name: str, plan: CapacityPlan, new: bool = False) -> list[Action]:
    """The changes ``name`` needs, in order; only reads meanwhile. A table just created from
    ``plan`` skips the billing and stray auto-scaling checks.

    A billing switch comes first and the auto-scaling changes after it (all marked ``switch``):
    AWS refuses some switches (to on-demand at most four times a rolling 24 h), and a refused
    switch must leave a provisioned table with its auto-scaling. Without a switch, stray
    auto-scaling is removed before the units are raised, so it cannot undo them."""
    info = client.describe_table(TableName=name)["Table"]
    indexes = [index["IndexName"] for index in info.get("GlobalSecondaryIndexes", [])]
    resources = [Scalable(f"table/{name}", "table", "table")]
    resources += [Scalable(f"table/{name}/index/{i}", "index", f"index {i}") for i in indexes]
    scaled = plan.mode == "provisioned" and plan.autoscaling
    state = ScalingState() if new else _scaling_state(resources)
    switching = not new and billing_mode(info) != plan.billing
    billing = [] if new else _billing_actions(client, info, plan)
    scaling = _scaling_actions(resources, plan, state) if scaled else _scaling_removals(state)
    if switching:
        actions = billing + [action._replace(switch=True) for action in scaling]
    else:
        actions = scaling + billing
    if plan.pitr:
        actions += _pitr_actions(client, name)
    return actions


def billing_mode(info: dict[str, Any]) -> str:
    """A described table's billing mode (tables created before the setting existed omit it)."""
    return info.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")


def _billing_actions(client: Any, info: dict[str, Any], plan: CapacityPlan) -> list[Action]:
    """Switch the billing mode, or (provisioned without auto-scaling) raise the units to the
    configured ones. Units are never lowered: each table and index gets max(current, configured)."""
    name = info["TableName"]
    current = billing_mode(info)
    switching = current != plan.billing
    if not switching and (plan.mode != "provisioned" or plan.autoscaling):
        return []  # auto-scaling owns the units of a provisioned table
    update: dict[str, Any] = {"BillingMode": plan.billing} if switching else {}
    what = f"billing {MODE_NAMES[current]} -> {plan.mode}" if switching else "provisioned units"
    if plan.mode == "provisioned":
        wanted = _at_least(info, plan.units)
        if switching or _units_of(info) != wanted:
            update["ProvisionedThroughput"] = wanted
        index_updates = {}
        for index in info.get("GlobalSecondaryIndexes", []):
            index_wanted = _at_least(index, plan.units)
            if switching or _units_of(index) != index_wanted:
                index_updates[index["IndexName"]] = index_wanted
        if index_updates:
            update["GlobalSecondaryIndexUpdates"] = [
                {"Update": {"IndexName": index, "ProvisionedThroughput": units}}
                for index, units in index_updates.items()
            ]
        if not update:
            return []
        units = _shown(update.get("ProvisionedThroughput", _units_of(info)))
        also = "".join(
            f"; also index {index}" + ("" if _shown(wanted) == units else f" {_shown(wanted)}")
            for index, wanted in index_updates.items()
        )
        what += f" ({units}{also})" if switching else f" -> {units}{also}"

    def switch() -> None:
        client.update_table(TableName=name, **update)
        wait_active(client, name)

    return [Action(what, switch, switching)]


def _at_least(described: dict[str, Any], units: tuple[int, int]) -> dict[str, int]:
    """The configured units, or the current ones where they are higher (an on-demand table
    describes its units as 0)."""
    current = _units_of(described)
    return {key: max(current[key], wanted) for key, wanted in throughput(units).items()}


def _shown(units: dict[str, int]) -> str:
    return f"read {units['ReadCapacityUnits']}, write {units['WriteCapacityUnits']}"


def _units_of(described: dict[str, Any]) -> dict[str, int]:
    units = described.get("ProvisionedThroughput", {})
    return {key: units.get(key, 0) for key in ("ReadCapacityUnits", "WriteCapacityUnits")}


@dataclass
class ScalingState:
    """Registered targets ``(resource id, dimension) -> (min, max)``; policies
    ``(resource id, dimension, policy name) -> (target value, metric)``."""

    targets: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    policies: dict[tuple[str, str, str], tuple[float, str]] = field(default_factory=dict)


def _scaling_state(resources: list[Scalable]) -> ScalingState:
    scaling = autoscaling()
    state = ScalingState()
    ids = [resource.resource_id for resource in resources]
    pages = scaling.get_paginator("describe_scalable_targets").paginate(
        ServiceNamespace="dynamodb", ResourceIds=ids
    )
    for page in pages:
        for target in page["ScalableTargets"]:
            key = (target["ResourceId"], target["ScalableDimension"])
            state.targets[key] = (target["MinCapacity"], target["MaxCapacity"])
    for resource_id in ids:
        pages = scaling.get_paginator("describe_scaling_policies").paginate(
            ServiceNamespace="dynamodb", ResourceId=resource_id
        )
        for page in pages:
            for policy in page["ScalingPolicies"]:
                if (
                    policy["ResourceId"] != resource_id
                ):  # moto: an index's answer has the table's too
                    continue
                tracking = policy.get("TargetTrackingScalingPolicyConfiguration", {})
                metric = tracking.get("PredefinedMetricSpecification", {})
                key = (resource_id, policy["ScalableDimension"], policy["PolicyName"])
                state.policies[key] = (
                    tracking.get("TargetValue"),
                    metric.get("PredefinedMetricType"),
                )
    return state


def _scaling_actions(
    resources: list[Scalable], plan: CapacityPlan, state: ScalingState
) -> list[Action]:
    """A scalable target and a target-tracking policy for reads and writes of each resource."""
    scaling = autoscaling()
    actions: list[Action] = []
    for resource in resources:
        for kind, low, high in zip(KINDS, plan.min_units, plan.max_units, strict=True):
            dimension = f"dynamodb:{resource.level}:{kind.title()}CapacityUnits"
            where = {
                "ServiceNamespace": "dynamodb",
                "ResourceId": resource.resource_id,
                "ScalableDimension": dimension,
            }
            if state.targets.get((resource.resource_id, dimension)) != (low, high):
                register = partial(
                    scaling.register_scalable_target, **where, MinCapacity=low, MaxCapacity=high
                )
                actions.append(
                    Action(f"auto-scaling {resource.label} {kind} {low}-{high} units", register)
                )
            metric = f"DynamoDB{kind.title()}CapacityUtilization"
            name = POLICY_NAME.format(kind=kind)
            if state.policies.get((resource.resource_id, dimension, name)) != (plan.target, metric):
                tracking = {
                    "TargetValue": plan.target,
                    "PredefinedMetricSpecification": {"PredefinedMetricType": metric},
                }
                put = partial(
                    scaling.put_scaling_policy,
                    **where,
                    PolicyName=name,
                    PolicyType="TargetTrackingScaling",
                    TargetTrackingScalingPolicyConfiguration=tracking,
                )
                actions.append(
                    Action(f"auto-scaling {resource.label} {kind} target {plan.target:g}%", put)
                )
    return actions


def _scaling_removals(state: ScalingState) -> list[Action]:
    """Delete the policies, then the targets (AWS would drop the policies with their target;
    moto keeps them)."""
    scaling = autoscaling()
    actions: list[Action] = []
    for resource_id, dimension, name in state.policies:
        delete = partial(
            scaling.delete_scaling_policy,
            ServiceNamespace="dynamodb",
            ResourceId=resource_id,
            ScalableDimension=dimension,
            PolicyName=name,
        )
        actions.append(Action(f"remove scaling policy {name} of {resource_id}", delete))
    for resource_id, dimension in state.targets:
        deregister = partial(
            scaling.deregister_scalable_target,
            ServiceNamespace="dynamodb",
            ResourceId=resource_id,
            ScalableDimension=dimension,
        )
        kind = dimension.rsplit(":", 1)[-1]
        actions.append(Action(f"remove auto-scaling target {resource_id} {kind}", deregister))
    return actions


def _pitr_actions(client: Any, name: str) -> list[Action]:
    backups = client.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    status = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
    if status == "ENABLED":
        return []
    return [Action("point-in-time recovery on", partial(_enable_pitr, client, name))]


def _enable_pitr(client: Any, name: str) -> None:
    """AWS refuses PITR for a minute or so after a table is created: retry that refusal."""
    for attempt in range(12):
        try:
            client.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
            return
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code != "ContinuousBackupsUnavailableException" or attempt == 11:
                raise
            time.sleep(5)
