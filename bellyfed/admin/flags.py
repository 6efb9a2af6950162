"""/admin/flags: operators create, edit and switch flags and experiments, and see exposures."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from bellyfed import flags
from bellyfed.admin import bp
from bellyfed.admin.views import admin_required
from bellyfed.core.htmx import is_htmx
from bellyfed.dynamo import flags as storage
from bellyfed.dynamo.flags import VersionConflict
from bellyfed.flags import changes, exposures
from bellyfed.flags.evaluate import Experiment, Flag
from bellyfed.flags.forms import ExperimentForm, FlagForm, ToggleForm

log = logging.getLogger(__name__)
KINDS: dict[str, tuple[type, Callable[..., FlagForm | ExperimentForm]]] = {
    "flag": (Flag, FlagForm),
    "experiment": (Experiment, ExperimentForm),
}


@contextmanager
def _dynamodb() -> Iterator[None]:
    """Turn a DynamoDB outage into a page that says so (503), not a 500."""
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        log.warning("admin flags: DynamoDB unavailable: %s", exc)
        abort(503, description="Flags can't be read or saved right now. Try again shortly.")


@bp.get("/flags")
@admin_required
def flag_list() -> ResponseReturnValue:
    """Every flag and experiment with its state, targets and exposures; declared ones unstored."""
    with _dynamodb():
        stored_flags, stored_experiments = storage.list_all()
        counts = {name: exposures.totals(e) for name, e in stored_experiments.items()}
    return render_template(
        "admin/flags.html",
        flags=sorted(stored_flags.values(), key=lambda f: f.name),
        experiments=sorted(stored_experiments.values(), key=lambda e: e.name),
        counts=counts,
        unstored_flags={n: d for n, d in flags.DECLARED.items() if n not in stored_flags},
        unstored_experiments={
            n: d for n, d in flags.DECLARED_EXPERIMENTS.items() if n not in stored_experiments
        },
    )


def _declared_data(kind: str) -> dict[str, object]:
    """A new form prefilled from a declared flag or experiment (``?name=``)."""
    name = request.args.get("name", "")
    if kind == "flag" and name in flags.DECLARED:
        declared = flags.DECLARED[name]
        return {"name": name, "default": declared.default, "description": declared.description}
    if kind == "experiment" and name in flags.DECLARED_EXPERIMENTS:
        known = flags.DECLARED_EXPERIMENTS[name]
        lines = "\n".join(f"{variant} 50" for variant in known.variants)
        return {"name": name, "variants": lines, "description": known.description}
    return {"name": name}


def _editor(kind: str, name: str | None) -> ResponseReturnValue:
    """Create (``name`` None) or edit one flag or experiment; its change log below."""
    record_type, form_class = KINDS[kind]
    with _dynamodb():
        stored = storage.get(record_type, name) if name else None
    if name and stored is None:
        abort(404, description=f"There is no {kind} called “{name}”.")
    form = form_class(data=form_class.data_of(stored) if stored else _declared_data(kind))
    if stored:
        del form.name  # a name is its key: it cannot change
    status = 200
    if form.validate_on_submit():
        record = form.to_record(name or form.name.data)
        try:
            with _dynamodb():
                saved = changes.save(record, who=current_user.username)
        except VersionConflict as conflict:
            message = changes.conflict_message(conflict.current, kind, record.name, not stored)
            form.form_errors.append(message)
            if stored and conflict.current:  # saving again knowingly replaces their change
                form.version.raw_data, form.version.data = None, conflict.current.version
            status = 409
        else:
            flash(f"Saved {kind} “{saved.name}” (version {saved.version}).", "success")
            return redirect(url_for(f"admin.edit_{kind}", name=saved.name))
    elif request.method == "POST":
        status = 400
    with _dynamodb():
        log = storage.changes(record_type, name) if name else []
    page = render_template(
        "admin/flag_edit.html", kind=kind, name=name, stored=stored, form=form, log=log
    )
    return page, status


def _toggle(kind: str, name: str) -> ResponseReturnValue:
    """Switch on or off: the row again for HTMX, else back to the list."""
    record_type = KINDS[kind][0]
    form = ToggleForm()
    if not form.validate_on_submit():
        abort(400, description="That switch was out of date or incomplete. Reload and try again.")
    message = None
    with _dynamodb():
        try:
            record = changes.toggle(record_type, name, form.version.data, current_user.username)
        except VersionConflict as conflict:
            record = conflict.current
            message = changes.conflict_message(record, kind, name, creating=False)
        if record is None:
            abort(404, description=f"There is no {kind} called “{name}”.")
        counts = {name: exposures.totals(record)} if isinstance(record, Experiment) else {}
    if is_htmx():
        template = f"admin/_flag_{kind}_row.html"
        return render_template(template, item=record, counts=counts, message=message)
    if message:
        flash(message, "error")
    else:
        flash(f"{name} is now {'on' if record.enabled else 'off'}.", "success")
    return redirect(url_for("admin.flag_list"))


@bp.route("/flags/new", methods=["GET", "POST"])
@admin_required
def new_flag() -> ResponseReturnValue:
    """Create a flag."""
    return _editor("flag", None)


@bp.route("/flags/<name>", methods=["GET", "POST"])
@admin_required
def edit_flag(name: str) -> ResponseReturnValue:
    """Edit a flag; see its change log."""
    return _editor("flag", name)


@bp.post("/flags/<name>/toggle")
@admin_required
def toggle_flag(name: str) -> ResponseReturnValue:
    """Switch a flag on or off."""
    return _toggle("flag", name)


@bp.route("/experiments/new", methods=["GET", "POST"])
@admin_required
def new_experiment() -> ResponseReturnValue:
    """Create an experiment."""
    return _editor("experiment", None)


@bp.route("/experiments/<name>", methods=["GET", "POST"])
@admin_required
def edit_experiment(name: str) -> ResponseReturnValue:
    """Edit an experiment; see its change log."""
    return _editor("experiment", name)


@bp.post("/experiments/<name>/toggle")
@admin_required
def toggle_experiment(name: str) -> ResponseReturnValue:
    """Start or stop an experiment."""
    return _toggle("experiment", name)
