"""Schemas shared by the API's resources, and the documented error responses.

Output schemas describe what the views return (flask-smorest serializes with them and puts them in
the OpenAPI document). Times are ISO 8601; money is in minor units (sen, cents) with its currency.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_smorest import Blueprint as SmorestBlueprint
from marshmallow import RAISE, Schema, ValidationError, fields
from webargs.flaskparser import FlaskParser

from bellyfed.api.problems import MIMETYPE


class Blueprint(SmorestBlueprint):
    """The API's blueprints: an unknown query parameter or body field is an error (400 / 422),
    so a typo is reported instead of ignored and a made-up parameter cannot bypass the cache."""

    ARGUMENTS_PARSER = FlaskParser(unknown=RAISE)


ALWAYS = (400, 401, 429, 503)
ERROR_DESCRIPTIONS = {
    304: "Not modified: the ETag in If-None-Match is still current.",
    400: "A parameter can't be used; `detail` says which and why.",
    401: "No valid API token: send Authorization: Bearer <token>.",
    403: "The token's owner can't change this (someone else's).",
    404: "No such resource.",
    409: "The change conflicts with the current state.",
    412: "If-Match named an older state: fetch it again and decide on the current one.",
    413: "The body is too large.",
    422: "The body has values we can't accept; `errors` lists them by field.",
    429: "Rate limited: retry after the seconds in Retry-After.",
    503: "A service behind the API is briefly unavailable.",
}


def plain_text(value: str) -> None:
    """A validator: text PostgreSQL can store (no NUL character, no unpaired surrogate)."""
    if "\x00" in value:
        raise ValidationError("Text can't contain the NUL character (\\u0000).")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Text has an unpaired surrogate: it isn't valid Unicode.") from None


def doc(text: str) -> dict[str, str]:
    """``metadata=doc("…")``: a field's description in the OpenAPI document."""
    return {"description": text}


class ProblemSchema(Schema):
    """An error (RFC 9457 problem details)."""

    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True, metadata={"example": "Not Found"})
    status = fields.Integer(required=True, metadata={"example": 404})
    detail = fields.String(required=True)
    instance = fields.String(required=True, metadata={"example": "/api/v1/restaurants/nowhere"})
    errors = fields.Dict(
        keys=fields.String(),
        metadata={"description": "Validation messages by field (400 and 422)."},
    )


def errors(
    blp: SmorestBlueprint, *codes: int
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Document the error responses a view can give. Every view can also answer 400 (a NUL byte
    anywhere in the URL), 401 (a bad token is refused even on a read), 429 and 503."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        for code in sorted({*codes, *ALWAYS}, reverse=True):
            if code == 304:
                view = blp.alt_response(304, description=ERROR_DESCRIPTIONS[304])(view)
                continue
            view = blp.alt_response(
                code, schema=ProblemSchema, content_type=MIMETYPE,
                description=ERROR_DESCRIPTIONS[code],
            )(view)  # fmt: skip
        return view

    return decorator


class CitySchema(Schema):
    slug = fields.String(required=True)
    name = fields.String(required=True)


class DishTypeRefSchema(Schema):
    slug = fields.String(required=True)
    name = fields.String(required=True)


class DishLinkSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    url = fields.String(required=True, metadata=doc("The dish's API URL."))


class RestaurantLinkSchema(Schema):
    slug = fields.String(required=True)
    name = fields.String(required=True)
    url = fields.String(required=True, metadata=doc("The restaurant's API URL."))


class MoneySchema(Schema):
    amount_minor = fields.Integer(required=True, metadata={"description": "In sen or cents."})
    currency = fields.String(required=True, metadata={"example": "MYR"})


class PageSchema(Schema):
    """A page of a keyset-paginated list: pass ``next_cursor`` back as ``cursor``."""

    next_cursor = fields.String(required=True, allow_none=True)
    next = fields.String(
        required=True, allow_none=True, metadata={"description": "URL of the next page."}
    )
