"""The ranking form on every dish card and on the dish's ranking page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

CHOICES = [
    ("1", "#1 — my favourite"),
    ("2", "#2"),
    ("3", "#3"),
    ("4", "#4"),
    ("5", "#5"),
    ("acceptable", "Tried it: acceptable"),
    ("second_chance", "Tried it: worth a second chance"),
    ("dissatisfied", "Tried it: dissatisfied"),
]


class RankForm(FlaskForm):
    """A position 1-5 (with notes and a photo) or a taste status (notes optional)."""

    choice = SelectField("Your verdict", choices=CHOICES, validators=[DataRequired()])
    notes = TextAreaField("Notes", validators=[Length(max=500)])
    photo = FileField("Photo of the dish")
    next = HiddenField()

    @property
    def position(self) -> int | None:
        """The chosen position, or None for a taste status."""
        return int(self.choice.data) if self.choice.data and self.choice.data.isdigit() else None
