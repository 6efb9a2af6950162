"""Review and comment forms."""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import DateField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from bellyfed.accounts.forms import ChoiceField, MultiCheckboxField


class ReviewForm(FlaskForm):
    """Rating, words, when, which dish, and photos."""

    rating = RadioField(
        "Rating", choices=[(str(n), f"{n} star{'s' if n > 1 else ''}") for n in range(5, 0, -1)],
        validators=[DataRequired(message="Choose a rating from 1 to 5 stars.")],
    )  # fmt: skip
    title = StringField("Title", validators=[Optional(), Length(max=120)])
    body = TextAreaField(
        "Your review",
        validators=[DataRequired(message="Write a few words about your visit."), Length(max=5000)],
    )
    visited_on = DateField("When did you go?", validators=[Optional()])
    dish_id = ChoiceField(
        "About a dish (optional)", choices=[], coerce=str,
        invalid="Pick one of this restaurant's dishes from the list.",
    )  # fmt: skip
    new_photos = MultipleFileField("Photos")
    remove_photos = MultiCheckboxField(
        "Remove photos", choices=[], coerce=int, invalid="Pick photos of this review to remove."
    )

    def validate_visited_on(self, field: DateField) -> None:
        if field.data and field.data > date.today():
            raise ValidationError("The visit can't be in the future.")

    def validate_body(self, field: TextAreaField) -> None:
        if field.data and not field.data.strip():
            raise ValidationError("Write a few words about your visit.")


class CommentForm(FlaskForm):
    """A reply under a review."""

    body = TextAreaField(
        "Comment",
        validators=[DataRequired(message="Write something first."), Length(max=2000)],
    )

    def validate_body(self, field: TextAreaField) -> None:
        if field.data and not field.data.strip():
            raise ValidationError("Write something first.")
