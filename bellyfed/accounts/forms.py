"""Sign-up, log-in, profile and preferences forms, with messages a diner can act on."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import func, select
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from bellyfed.accounts.models import User
from bellyfed.accounts.passwords import COMMON_MESSAGE, PERSONAL_MESSAGE, is_common, is_personal
from bellyfed.core.formatting import price_level_label
from bellyfed.core.vocab import DIETARY_TAGS, PRICE_LEVELS
from bellyfed.extensions import db
from bellyfed.restaurants.models import City, Cuisine

MIN_PASSWORD_LENGTH = 12
# A new password: 12 to 128 characters (OWASP ASVS 2.1.1, 2.1.2). Log-in takes up to 1024, so an
# account whose password was chosen under the old, longer limit can still sign in.
MAX_NEW_PASSWORD_LENGTH = 128
MAX_PASSWORD_LENGTH = 1024  # argon2 copes with more, but nobody types a novel into a password box
USERNAME_MESSAGE = "Usernames are 3-30 characters: lowercase letters, digits and underscores."
PRICE_CHOICES = [("", "Any")] + [(str(level), price_level_label(level)) for level in PRICE_LEVELS]
PRICE_INVALID = "Pick a price level from the list."
DIETARY_LABELS = {"no-pork-no-lard": "No pork, no lard", "gluten-free": "Gluten-free"}
DIETARY_CHOICES = [
    (tag, DIETARY_LABELS.get(tag, tag.replace("-", " ").capitalize())) for tag in DIETARY_TAGS
]


def _clean(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL: drop stray ones here rather than fail in the database.
    return value.replace("\x00", "").strip() if isinstance(value, str) else value


def _lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


def optional_int(value: object) -> int | None:
    """Coerce a select's value: blank means "none", anything else must be a whole number."""
    if value is None or value == "":
        return None
    return int(value)  # a ValueError is reported as the field's "pick from the list" message


class _PlainChoiceErrors:
    """One plain message for any value that was not offered (WTForms' own are technical)."""

    def __init__(self, *args: object, invalid: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.invalid = invalid

    def process_formdata(self, valuelist: list[str]) -> None:
        """Coerce the submitted values, or fail with the plain message."""
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(self.invalid) from exc

    def pre_validate(self, form: FlaskForm) -> None:
        """Accept only values that were offered."""
        try:
            super().pre_validate(form)
        except ValidationError as exc:
            raise ValidationError(self.invalid) from exc


class ChoiceField(_PlainChoiceErrors, SelectField):
    """A drop-down list."""


class MultiCheckboxField(_PlainChoiceErrors, SelectMultipleField):
    """A multiple choice shown as a list of checkboxes (works without JavaScript)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def identifier_field() -> StringField:
    """A username or an email, as the login and forgot-password forms take it."""
    return StringField(
        "Username or email",
        filters=[_clean],
        render_kw={"autocomplete": "username"},
        validators=[
            DataRequired("Enter your username or email."),
            Length(max=254, message="That is longer than any username or email we know."),
        ],
    )


def not_common(form: FlaskForm, field: Field) -> None:
    """Refuse a password from the shipped list of common and breached passwords."""
    if field.data and is_common(field.data):
        raise ValidationError(COMMON_MESSAGE)


def current_password_field(label: str, missing: str) -> PasswordField:
    """The password the account has now (log-in, a password change): any length it was set with."""
    return PasswordField(
        label,
        render_kw={"autocomplete": "current-password"},
        validators=[
            DataRequired(missing),
            Length(max=MAX_PASSWORD_LENGTH, message="That password is too long."),
        ],
    )


def new_password_field(label: str, missing: str) -> PasswordField:
    """A password being chosen (sign-up, reset): the same rules everywhere."""
    return PasswordField(
        label,
        # Password managers offer to generate and save one (nothing here blocks pasting).
        render_kw={"autocomplete": "new-password"},
        validators=[
            DataRequired(missing),
            Length(
                min=MIN_PASSWORD_LENGTH,
                message=(
                    f"Use at least {MIN_PASSWORD_LENGTH} characters; a short phrase works well."
                ),
            ),
            Length(
                max=MAX_NEW_PASSWORD_LENGTH,
                message=f"Keep it to {MAX_NEW_PASSWORD_LENGTH} characters or fewer.",
            ),
            not_common,
        ],
    )


def repeat_password_field(label: str, missing: str) -> PasswordField:
    """The chosen password typed again; must equal the ``password`` field."""
    return PasswordField(
        label,
        render_kw={"autocomplete": "new-password"},
        validators=[DataRequired(missing), EqualTo("password", "The two passwords don't match.")],
    )


class RegistrationForm(FlaskForm):
    """A new account: username, email, display name and a long password, typed twice."""

    username = StringField(
        "Username",
        filters=[_clean, _lower],
        render_kw={"autocomplete": "username"},
        validators=[
            DataRequired("Choose a username."),
            Length(3, 30, USERNAME_MESSAGE),
            Regexp(r"^[a-z0-9_]+$", message=USERNAME_MESSAGE),
        ],
    )
    email = EmailField(
        "Email",
        filters=[_clean],
        validators=[
            DataRequired("Enter your email address."),
            Length(max=254, message="That email address is too long."),
            Email("That doesn't look like an email address."),
        ],
    )
    display_name = StringField(
        "Display name",
        filters=[_clean],
        validators=[
            DataRequired("Tell us what to call you."),
            Length(max=60, message="Keep your display name to 60 characters."),
        ],
    )
    password = new_password_field("Password", "Choose a password.")
    confirm = repeat_password_field("Password again", "Type your password a second time.")

    def validate_username(self, field: Field) -> None:
        """Refuse a username somebody already has."""
        if db.session.scalar(select(User.id).where(User.username == field.data)):
            raise ValidationError("That username is taken. Try another.")

    def validate_email(self, field: Field) -> None:
        """Refuse an email already in use, whatever its case."""
        taken = select(User.id).where(func.lower(User.email) == field.data.lower())
        if db.session.scalar(taken):
            raise ValidationError("An account with that email already exists. Try logging in.")

    def validate_password(self, field: Field) -> None:
        """Refuse the username, email or display name as the password."""
        names = (self.username.data, self.email.data, self.display_name.data)
        if field.data and is_personal(field.data, names):
            raise ValidationError(PERSONAL_MESSAGE)


class LoginForm(FlaskForm):
    """Username or email, and the password."""

    identifier = identifier_field()
    password = current_password_field("Password", "Enter your password.")


class ProfileForm(FlaskForm):
    """What other diners see: display name, bio, home city and avatar."""

    display_name = StringField(
        "Display name",
        filters=[_clean],
        validators=[
            DataRequired("Tell us what to call you."),
            Length(max=60, message="Keep your display name to 60 characters."),
        ],
    )
    bio = TextAreaField(
        "About you",
        filters=[_clean],
        validators=[Length(max=2000, message="Keep your bio to 2000 characters.")],
    )
    home_city_id = ChoiceField(
        "Home city", coerce=optional_int, invalid="Pick a city from the list."
    )
    avatar = FileField("New avatar")
    remove_avatar = BooleanField("Remove my avatar")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        cities = db.session.execute(select(City.id, City.name).order_by(City.name)).all()
        self.home_city_id.choices = [("", "No home city")] + [(c.id, c.name) for c in cities]


class PreferencesForm(FlaskForm):
    """What personalizes browse and search."""

    favourite_cuisines = MultiCheckboxField(
        "Favourite cuisines", coerce=int, invalid="Pick cuisines from the list."
    )
    dietary_needs = MultiCheckboxField(
        "Dietary needs", choices=DIETARY_CHOICES, invalid="Pick dietary needs from the list."
    )
    price_min = ChoiceField(
        "Cheapest", choices=PRICE_CHOICES, coerce=optional_int, invalid=PRICE_INVALID
    )
    price_max = ChoiceField(
        "Priciest", choices=PRICE_CHOICES, coerce=optional_int, invalid=PRICE_INVALID
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        cuisines = db.session.execute(select(Cuisine.id, Cuisine.name).order_by(Cuisine.name))
        self.favourite_cuisines.choices = [(c.id, c.name) for c in cuisines]

    def validate_price_max(self, field: Field) -> None:
        """The range must not be upside down."""
        low, high = self.price_min.data, field.data
        if low is not None and high is not None and low > high:
            raise ValidationError("The priciest level can't be below the cheapest.")


class ForgotPasswordForm(FlaskForm):
    """Whose password to reset: a username or an email."""

    identifier = identifier_field()


class ChangePasswordForm(FlaskForm):
    """The current password, then a new one typed twice under the sign-up rules."""

    current = current_password_field("Current password", "Enter your current password.")
    password = new_password_field("New password", "Choose a new password.")
    confirm = repeat_password_field("Repeat it", "Type your new password a second time.")


class ResetPasswordForm(FlaskForm):
    """A new password, typed twice, under the same rules as at sign-up."""

    password = new_password_field("New password", "Choose a new password.")
    confirm = repeat_password_field("Repeat it", "Type your new password a second time.")


def code_field(label: str, message: str, *, recovery: bool, autofocus: bool = False) -> StringField:
    """A code typed from an authenticator app (or, when ``recovery``, from the printed list)."""
    return StringField(
        label,
        filters=[_clean],
        validators=[
            DataRequired(message),
            Length(max=64, message="That's longer than any code we give out."),
        ],
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "text" if recovery else "numeric",
            "autocapitalize": "none",
            "spellcheck": "false",
            "autofocus": autofocus,  # WTForms leaves out a False attribute
        },
    )


class TwoFactorLoginForm(FlaskForm):
    """The second step of logging in: a code from the app, or a recovery code."""

    code = code_field("Code", "Type the 6-digit code from your authenticator app.", recovery=True)


class TwoFactorSetupForm(FlaskForm):
    """Turning two-step sign-in on: the password again, and the app's first code."""

    password = current_password_field("Your password", "Enter your password.")
    code = code_field(
        "The 6-digit code your app shows", "Type the code your app shows now.", recovery=False
    )


class TwoFactorDisableForm(FlaskForm):
    """Turning it off: the password, and a code from the app (or a recovery code)."""

    password = current_password_field("Your password", "Enter your password.")
    code = code_field(
        "A code from your app, or a recovery code", "Type a code from your app.", recovery=True
    )


class RecoveryCodesForm(FlaskForm):
    """New recovery codes: a code from the app first."""

    code = code_field("A code from your app", "Type the code your app shows now.", recovery=False)
