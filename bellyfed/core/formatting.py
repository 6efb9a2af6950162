"""Template filters: money, dates and small labels."""

from __future__ import annotations

from datetime import date, datetime, time

from flask import Flask

from bellyfed.core.urls import current_path

CURRENCY_SYMBOLS = {"MYR": "RM", "SGD": "S$"}


def format_money(minor: int | None, currency: str) -> str:
    """1250, "MYR" -> "RM 12.50"; unknown currencies keep their ISO code."""
    if minor is None:
        return ""
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    return f"{symbol} {minor // 100:,}.{minor % 100:02d}"


def format_clock(value: time) -> str:
    """A time as 24-hour "07:30"."""
    return value.strftime("%H:%M")


def format_date(value: date | datetime | None) -> str:
    """ "3 Nov 2026"."""
    if value is None:
        return ""
    return f"{value.day} {value.strftime('%b %Y')}"


def price_level_label(level: int) -> str:
    """2 -> "$$"."""
    return "$" * level


def init_app(app: Flask) -> None:
    """Register the filters with Jinja."""
    app.add_template_filter(format_money, "money")
    app.add_template_filter(format_clock, "clock")
    app.add_template_filter(format_date, "day")
    app.add_template_filter(price_level_label, "price_level")
    app.add_template_global(current_path)
