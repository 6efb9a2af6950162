"""The API token wizard's forms: name and lifetime first, then the password to confirm."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from bellyfed.accounts.forms import ChoiceField, current_password_field
from bellyfed.accounts.tokens import DEFAULT_LIFETIME, LIFETIMES, NAME_CHARS

LIFETIME_CHOICES = list(LIFETIMES.items())


def _squeeze(value: str | None) -> str | None:
    # The name is stored with runs of whitespace collapsed: measure what will be kept.
    return " ".join(value.split()) if isinstance(value, str) else value


class TokenDetailsForm(FlaskForm):
    """Step 1: what to call the token and how long it lives."""

    name = StringField(
        "Name",
        filters=[_squeeze],
        validators=[
            DataRequired("Give the token a name, such as the script or machine that will use it."),
            Length(max=NAME_CHARS, message=f"Keep the name to {NAME_CHARS} characters."),
        ],
    )
    days = ChoiceField(
        "Lifetime",
        choices=LIFETIME_CHOICES,
        coerce=int,
        default=DEFAULT_LIFETIME,
        invalid="Pick a lifetime from the list.",
    )


class TokenConfirmForm(FlaskForm):
    """Step 2: the current password, because a token acts for the account."""

    password = current_password_field("Your password", "Enter your password to confirm.")
