"""The operators' forms for flags and experiments: anything invalid is refused before a write."""

from __future__ import annotations

import re
from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, Field, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError
from wtforms.widgets import HiddenInput

from bellyfed.accounts.forms import MultiCheckboxField
from bellyfed.core.vocab import ROLES
from bellyfed.extensions import db
from bellyfed.flags.evaluate import Experiment, Flag, Variant, valid_weights
from bellyfed.restaurants.models import City

NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
NAME_MESSAGE = (
    "Names are lowercase letters, digits and single hyphens, like home-search-placeholder."
)
RESERVED = {"new"}  # /admin/flags/new is the create page


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def check_name(form: FlaskForm, field: Field) -> None:
    """Refuse names that are not URL-safe slugs, or that a page already uses."""
    if not NAME.match(field.data or "") or field.data in RESERVED:
        raise ValidationError(NAME_MESSAGE)


class VersionedForm(FlaskForm):
    """A form carrying the version the operator saw, so a concurrent change is noticed."""

    version = IntegerField(widget=HiddenInput(), default=0, validators=[InputRequired()])


class FlagForm(VersionedForm):
    """A flag's name (new flags only), state, rollout and targets."""

    name = StringField(
        "Name",
        filters=[_strip],
        validators=[DataRequired("Name the flag."), Length(max=64), check_name],
    )
    description = TextAreaField("What it does", filters=[_strip], validators=[Length(max=500)])
    enabled = BooleanField("On (off serves nobody, whatever the rules below say)")
    rollout = IntegerField(
        "Rollout, % of users and visitors",
        default=0,
        validators=[
            InputRequired("Give a rollout percentage (0 for none)."),
            NumberRange(0, 100, "Rollout is a percentage from 0 to 100."),
        ],
    )
    users = StringField("Always on for user ids", filters=[_strip])
    roles = MultiCheckboxField(
        "Always on for roles", choices=list(ROLES), invalid="Pick roles from the list."
    )
    cities = MultiCheckboxField("Always on for home cities", invalid="Pick cities from the list.")
    default = BooleanField("On for everyone else (normally off)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cities = db.session.execute(select(City.slug, City.name).order_by(City.name))
        self.cities.choices = [(slug, name) for slug, name in cities]

    def validate_users(self, field: Field) -> None:
        """User ids: whole numbers separated by commas or spaces."""
        if not all(part.isdigit() for part in re.split(r"[\s,]+", field.data or "") if part):
            raise ValidationError("User ids are whole numbers, separated by commas.")

    def to_record(self, name: str) -> Flag:
        """The flag these fields describe."""
        users = (int(part) for part in re.split(r"[\s,]+", self.users.data or "") if part)
        return Flag(
            name=name,
            enabled=self.enabled.data,
            rollout=self.rollout.data,
            users=frozenset(users),
            roles=frozenset(self.roles.data or ()),
            cities=frozenset(self.cities.data or ()),
            default=self.default.data,
            description=self.description.data or "",
            version=self.version.data,
        )

    @staticmethod
    def data_of(flag: Flag) -> dict[str, Any]:
        """Initial field values from a stored flag."""
        return {
            "enabled": flag.enabled,
            "rollout": flag.rollout,
            "roles": sorted(flag.roles),
            "users": ", ".join(map(str, sorted(flag.users))),
            "cities": sorted(flag.cities),
            "default": flag.default,
            "description": flag.description,
            "version": flag.version,
        }


class ExperimentForm(VersionedForm):
    """An experiment's name (new ones only), state and weighted variants."""

    name = StringField(
        "Name",
        filters=[_strip],
        validators=[DataRequired("Name the experiment."), Length(max=64), check_name],
    )
    description = TextAreaField("What it tests", filters=[_strip], validators=[Length(max=500)])
    enabled = BooleanField("Running (off: everyone sees the first variant, nothing is counted)")
    variants = TextAreaField(
        "Variants, one per line: name and weight (the first is the control)",
        validators=[DataRequired("List at least two variants.")],
    )

    def parsed_variants(self) -> tuple[Variant, ...]:
        """The variants field as (name, weight) pairs; raises ValueError on a malformed line."""
        pairs = []
        for line in (self.variants.data or "").splitlines():
            if line.strip():
                name, weight = line.split()
                pairs.append(Variant(name, int(weight)))
        return tuple(pairs)

    def validate_variants(self, field: Field) -> None:
        """Two or more distinct slug names, integer weights, none negative, not all zero."""
        try:
            variants = self.parsed_variants()
        except ValueError as exc:
            raise ValidationError(
                "Write each variant as a name and a whole number: dish 50"
            ) from exc
        names = [v.name for v in variants]
        if len(variants) < 2 or len(set(names)) != len(names):
            raise ValidationError("List at least two variants, each name once.")
        if not all(NAME.match(name) for name in names):
            raise ValidationError(NAME_MESSAGE)
        if not valid_weights(v.weight for v in variants):
            raise ValidationError("Weights are whole numbers, none negative, not all zero.")

    def to_record(self, name: str) -> Experiment:
        """The experiment these fields describe."""
        return Experiment(
            name=name,
            variants=self.parsed_variants(),
            enabled=self.enabled.data,
            description=self.description.data or "",
            version=self.version.data,
        )

    @staticmethod
    def data_of(experiment: Experiment) -> dict[str, Any]:
        """Initial field values from a stored experiment."""
        lines = "\n".join(f"{v.name} {v.weight}" for v in experiment.variants)
        return {
            "enabled": experiment.enabled,
            "description": experiment.description,
            "variants": lines,
            "version": experiment.version,
        }


class ToggleForm(VersionedForm):
    """Switch on or off in place: only the version the operator saw."""
