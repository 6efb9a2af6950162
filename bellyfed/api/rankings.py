"""The caller's own rankings: a top-5 per dish type and "tried" taste marks, as on "My top 5s".

Reads use ``rankings/queries.py`` and writes the services the dish cards use
(``rankings/services.py``: insertion, drop-off, taste marks, history, leaderboards), committed here
as the web views do. Everything is the caller's own data: a token is needed, nothing is cached
(``Cache-Control: private, no-store``).

Optimistic concurrency: each list has an ETag (the single-list GET's ``ETag`` header, and
``etag`` in every list in a body). A PUT or DELETE sending ``If-Match`` with an ETag that is no
longer the list's gets **412 Precondition Failed**, the status HTTP defines for a failed
``If-Match`` (RFC 9110 §13.1.1), so a client can tell "you decided on an old list" from a 409
("this change collided with another one being made right now").

A new top-5 place needs notes and a photo of the dish, as the website's form asks: the photo is
uploaded first (``POST /me/photos``, ``photos.py``) and named here by its ``photo_id``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, NoReturn

from flask import Response, abort, current_app, request, url_for
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from werkzeug.http import quote_etag

from bellyfed.analytics.events import record
from bellyfed.api.auth import SECURITY, caller_user, token_required
from bellyfed.api.schemas import (
    Blueprint,
    DishLinkSchema,
    DishTypeRefSchema,
    RestaurantLinkSchema,
    doc,
    errors,
    plain_text,
)
from bellyfed.core.vocab import TASTE_STATUSES
from bellyfed.dishes.models import Dish, DishType
from bellyfed.extensions import db
from bellyfed.leaderboards.queries import dish_type_by_slug
from bellyfed.photos.models import Photo
from bellyfed.rankings import services
from bellyfed.rankings.models import Ranking
from bellyfed.rankings.queries import TypeList, lists_for

blp = Blueprint(
    "api_rankings",
    __name__,
    description="Your own top-5 per dish type and taste marks (needs your token).",
)
PRIVATE = "private, no-store"
NOT_RANKABLE = "{name} isn't a dish type diners rank (drinks and sides aren't)."  # as the UI
NEEDS_NOTE = "Add a note: what makes it a top-5 dish for you?"  # as the UI
NEEDS_PHOTO = "Add a photo of the dish for a top-5 place."  # as the UI
NEEDS_PHOTO_HOW = " Upload it with POST /api/v1/me/photos and send its id as photo_id."
NOT_YOUR_PHOTO = "That photo isn't one of yours."
NO_PHOTO = "There's no photo {id}: upload it with POST /api/v1/me/photos first."
PHOTO_WITH_STATUS = "A photo goes with a top-5 place (position), not with a taste status."
BIGINT_MAX = 2**63 - 1
STALE = (
    "Your {type} rankings changed since you fetched them (If-Match is out of date). "
    "GET the list again and retry with its new ETag."
)
COLLIDED = "Your rankings changed in another request at the same time. Please try again."
# Serialization failure and deadlock: the transaction lost a race and can simply be retried.
RETRYABLE_SQLSTATES = {"40001", "40P01"}
STATUS_CHOICES = ", ".join(TASTE_STATUSES)
MAX = services.MAX_POSITION
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "The list's ETag when you decided on this change: if the list has changed "
    "since, nothing is changed and the answer is 412.",
}


class RankingArgs(Schema):
    """Exactly one of a position or a taste status, as the ranking form's single choice."""

    position = fields.Integer(
        strict=True,
        validate=validate.Range(1, MAX, error=f"Pick a position from 1 to {MAX}."),
        metadata=doc(
            "1-5 in your top 5 of the dish's type: the dish there and those below move down, "
            "a sixth drops off. Past the end it takes the next free place."
        ),
    )
    status = fields.String(
        validate=validate.OneOf(TASTE_STATUSES, error=f"Pick one of: {STATUS_CHOICES}."),
        metadata=doc(f"Tried it, not top-5 material: {STATUS_CHOICES}. Takes it out of the top 5."),
    )
    notes = fields.String(
        validate=[validate.Length(max=500), plain_text],
        metadata=doc(
            "Up to 500 characters. Needed for a top-5 place unless the dish already has notes; "
            "left as they are when omitted."
        ),
    )
    photo_id = fields.Integer(
        strict=True,
        validate=validate.Range(1, BIGINT_MAX, error="That isn't a photo id."),
        metadata=doc(
            "With a position only: a photo of the dish you uploaded (POST /me/photos). Needed "
            "for a top-5 place unless the dish is already ranked with a photo; replaces that "
            "photo when sent."
        ),
    )

    @validates_schema
    def one_choice(self, data: dict[str, Any], **_: Any) -> None:
        if ("position" in data) == ("status" in data):
            raise ValidationError(
                f"Send a JSON object with exactly one of position (1-{MAX}) or status "
                f"({STATUS_CHOICES}).",
                field_name="position",
            )
        if "photo_id" in data and "status" in data:
            raise ValidationError(PHOTO_WITH_STATUS, field_name="photo_id")


class RestaurantRefSchema(RestaurantLinkSchema):
    city = fields.String(required=True)


class EntrySchema(Schema):
    position = fields.Integer(
        required=True, allow_none=True, metadata=doc("1-5 in the top 5; null for a taste mark.")
    )
    status = fields.String(
        required=True,
        allow_none=True,
        metadata=doc(f"Taste mark ({STATUS_CHOICES}); null when ranked."),
    )
    notes = fields.String(required=True)
    photo = fields.String(
        required=True,
        allow_none=True,
        metadata=doc("Your photo of the dish (its URL; a top-5 place has one), or null."),
    )
    dish = fields.Nested(DishLinkSchema, required=True)
    restaurant = fields.Nested(RestaurantRefSchema, required=True)
    updated_at = fields.DateTime(required=True)


class TypeListSchema(Schema):
    dish_type = fields.Nested(DishTypeRefSchema, required=True)
    ranked = fields.List(
        fields.Nested(EntrySchema), required=True, metadata=doc("The top 5, by position.")
    )
    tried = fields.List(
        fields.Nested(EntrySchema), required=True, metadata=doc("Taste marks, latest first.")
    )
    etag = fields.String(
        required=True, metadata=doc("This list's current ETag: send it as If-Match.")
    )
    url = fields.String(required=True)


class RankingsSchema(Schema):
    lists = fields.List(
        fields.Nested(TypeListSchema),
        required=True,
        metadata=doc("One per dish type you ranked or marked, by name."),
    )


class DroppedSchema(Schema):
    dish = fields.Nested(DishLinkSchema, required=True)
    restaurant = fields.Nested(RestaurantRefSchema, required=True)


class ChangeSchema(Schema):
    dish = fields.Nested(DishLinkSchema, required=True)
    restaurant = fields.Nested(RestaurantRefSchema, required=True)
    position = fields.Integer(required=True, allow_none=True)
    status = fields.String(required=True, allow_none=True)
    previous_position = fields.Integer(required=True, allow_none=True)
    previous_status = fields.String(required=True, allow_none=True)
    clamped_from = fields.Integer(
        required=True,
        allow_none=True,
        metadata=doc(
            "The position asked for when the places above it were empty (it took the next "
            "free one); null otherwise."
        ),
    )
    dropped = fields.List(
        fields.Nested(DroppedSchema),
        required=True,
        metadata=doc("Dishes this pushed out of the top 5."),
    )


class RankingChangeSchema(Schema):
    list = fields.Nested(TypeListSchema, required=True)
    change = fields.Nested(ChangeSchema, required=True)


def _dish_ref(dish: Dish) -> dict[str, Any]:
    return {
        "id": dish.id,
        "name": dish.name,
        "url": url_for("api_catalog.dish", dish_id=dish.id, _external=True),
    }


def _restaurant_ref(dish: Dish) -> dict[str, Any]:
    restaurant = dish.restaurant
    return {
        "slug": restaurant.slug,
        "name": restaurant.name,
        "city": restaurant.city.name,
        "url": url_for("api_restaurants.detail", slug=restaurant.slug, _external=True),
    }


def _entry(ranking: Ranking) -> dict[str, Any]:
    return {
        "position": ranking.position,
        "status": ranking.taste_status,
        "notes": ranking.notes,
        "photo": url_for("photos.show", photo_id=ranking.photo_id, _external=True)
        if ranking.photo_id is not None
        else None,
        "dish": _dish_ref(ranking.dish),
        "restaurant": _restaurant_ref(ranking.dish),
        "updated_at": ranking.updated_at,
    }


def list_etag(group: TypeList) -> str:
    """A strong ETag (unquoted) of everything the list shows."""
    state = [group.dish_type.slug, group.dish_type.name] + [
        [
            r.id,
            r.dish_id,
            r.position,
            r.taste_status,
            r.notes,
            r.photo_id,
            r.updated_at.isoformat(),
            r.dish.name,
            r.dish.restaurant.slug,
            r.dish.restaurant.name,
            r.dish.restaurant.city.name,
        ]
        for r in group.ranked + group.marked
    ]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()[:32]


def present(group: TypeList) -> dict[str, Any]:
    """One dish type's list as the API shows it."""
    return {
        "dish_type": group.dish_type,
        "ranked": [_entry(r) for r in group.ranked],
        "tried": [_entry(r) for r in group.marked],
        "etag": quote_etag(list_etag(group)),
        "url": url_for("api_rankings.one_list", type_slug=group.dish_type.slug, _external=True),
    }


def _list_of(user_id: int, dish_type: DishType) -> TypeList:
    lists = lists_for(user_id, dish_type.id)
    return lists[0] if lists else TypeList(dish_type, [], [])


def _headers(etag: str | None = None) -> dict[str, str]:
    headers = {"Cache-Control": PRIVATE}
    if etag is not None:
        headers["ETag"] = quote_etag(etag)
    return headers


def _locked_list(user_id: int, dish_type: DishType) -> TypeList:
    """The caller's list, locked as the services lock it, refused with 412 when ``If-Match``
    names another state. Locked first, so the state compared is the one the change applies to."""
    services._lock_list(user_id, dish_type.id)
    group = _list_of(user_id, dish_type)
    if request.if_match and not request.if_match.contains(list_etag(group)):
        db.session.rollback()
        abort(412, description=STALE.format(type=dish_type.name))
    return group


def _commit_or_409() -> None:
    """Commit the change; a race lost in the database (another request changing the same list
    at the same moment) is a 409 to retry, as the web form says, never a 500."""
    try:
        db.session.commit()
    except DBAPIError as exc:
        _conflict(exc)


def _conflict(exc: DBAPIError) -> NoReturn:
    db.session.rollback()
    if isinstance(exc, IntegrityError) or getattr(exc.orig, "sqlstate", None) in (
        RETRYABLE_SQLSTATES
    ):
        abort(409, description=COLLIDED)
    raise exc


@blp.get("/me/rankings")
@errors(blp, 401)
@blp.response(200, RankingsSchema)
@blp.doc(security=SECURITY)
@token_required
def all_lists() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Your top 5 and taste marks for every dish type you ranked, as on "My top 5s"."""
    lists = lists_for(caller_user().id)
    return {"lists": [present(group) for group in lists]}, 200, _headers()


@blp.get("/me/rankings/<type_slug>")
@errors(blp, 304, 400, 401, 404)
@blp.response(200, TypeListSchema)
@blp.doc(security=SECURITY)
@token_required
def one_list(type_slug: str) -> Response | tuple[dict[str, Any], int, dict[str, str]]:
    """Your list for one dish type (empty when you ranked none); its ETag is for If-Match."""
    dish_type = dish_type_by_slug(type_slug)
    if dish_type is None:
        abort(404, description=f"We don't know a dish called “{type_slug}”.")
    group = _list_of(caller_user().id, dish_type)
    etag = list_etag(group)
    if request.if_none_match.contains(etag):
        return current_app.response_class(status=304, headers=_headers(etag))
    return present(group), 200, _headers(etag)


# PUT and DELETE share one URL rule: as two rules, werkzeug answers a too-large id with a 405
# for the second method instead of a 404 (it notes the first rule's method before converting).
@blp.route("/me/rankings/dishes/<int:dish_id>")
class DishRanking(MethodView):
    """Your ranking of one dish."""

    @errors(blp, 400, 401, 404, 409, 412, 422)
    @blp.arguments(RankingArgs, as_kwargs=True)
    @blp.response(200, RankingChangeSchema)
    @blp.doc(security=SECURITY, parameters=[IF_MATCH])
    @token_required
    def put(
        self,
        dish_id: int,
        position: int | None = None,
        status: str | None = None,
        notes: str | None = None,
        photo_id: int | None = None,
    ) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Rank a dish at a position in your top 5 for its type, or mark it with a taste status.

        The same rules as the dish card's form: placing at a taken position moves the others down
        and a sixth drops off (listed in `change.dropped` and your history); a position past the
        end is clamped to the next free place (`change.clamped_from`); a taste mark takes the dish
        out of the top 5 and closes the gap. A top-5 place needs notes (sent, or already there)
        and a photo of the dish: upload it first (`POST /me/photos`) and send its `photo_id`,
        unless the dish is already ranked with a photo.
        """
        return rank_dish(caller_user().id, dish_id, position, status, notes, photo_id)

    @errors(blp, 401, 404, 409, 412)
    @blp.response(204)
    @blp.doc(security=SECURITY, parameters=[IF_MATCH])
    @token_required
    def delete(self, dish_id: int) -> Response:
        """Take a dish out of your rankings (top 5 or taste mark); the ones below move up."""
        return unrank_dish(caller_user().id, dish_id)


def rank_dish(
    user_id: int,
    dish_id: int,
    position: int | None,
    status: str | None,
    notes: str | None,
    photo_id: int | None = None,
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """PUT: place or mark the dish through the services, answer the list and what changed."""
    dish = db.session.get(Dish, dish_id)
    if dish is None or not dish.restaurant.is_active:
        abort(404, description=f"We couldn't find dish {dish_id}.")
    if dish.dish_type is None:
        abort(422, description=NOT_RANKABLE.format(name=dish.name))
    notes = notes.strip() if notes is not None else None
    group = _locked_list(user_id, dish.dish_type)
    current = next((r for r in group.ranked + group.marked if r.dish_id == dish.id), None)
    before = (current.position, current.taste_status) if current else (None, None)
    kept_notes = current.notes if current else ""
    if position is not None and not (notes if notes is not None else kept_notes):
        db.session.rollback()
        abort(422, description=NEEDS_NOTE)
    if position is not None:
        _check_photo(user_id, dish, photo_id, current)
    try:
        if position is not None:
            change = services.place(user_id, dish, position, notes=notes, photo_id=photo_id)
        else:
            change = services.mark(user_id, dish, status or "", notes=notes)
    except services.RankingError as exc:  # the inputs are checked above: the list's state
        db.session.rollback()
        abort(409, description=str(exc))
    except DBAPIError as exc:
        _conflict(exc)
    mine = change.ranking
    body_change = {
        "dish": _dish_ref(dish),
        "restaurant": _restaurant_ref(dish),
        "position": mine.position if mine else None,
        "status": mine.taste_status if mine else None,
        "previous_position": before[0],
        "previous_status": before[1],
        "clamped_from": change.clamped_from,
        "dropped": [
            {"dish": _dish_ref(d), "restaurant": _restaurant_ref(d)} for d in change.dropped
        ],
    }
    _commit_or_409()
    record("metric", "rankings")
    group = _list_of(user_id, dish.dish_type)
    return {"list": present(group), "change": body_change}, 200, _headers(list_etag(group))


def _check_photo(user_id: int, dish: Dish, photo_id: int | None, current: Ranking | None) -> None:
    """A top-5 place's photo, as the web form's rule: a new place (or one without a photo) needs
    one, and it must be the caller's own upload. One sent without alt text is the dish's photo."""
    if photo_id is None:
        if current is None or current.photo_id is None:
            db.session.rollback()
            abort(422, description=NEEDS_PHOTO + NEEDS_PHOTO_HOW)
        return
    photo = db.session.get(Photo, photo_id)
    if photo is None or photo.uploader_id != user_id:
        db.session.rollback()
        abort(422, description=NO_PHOTO.format(id=photo_id) if photo is None else NOT_YOUR_PHOTO)
    if not photo.alt_text:
        photo.alt_text = dish.name  # as the web form's upload


def unrank_dish(user_id: int, dish_id: int) -> Response:
    """DELETE: remove the dish from the caller's rankings; 204 with the list's new ETag."""
    dish_type_id = db.session.scalar(
        select(Ranking.dish_type_id).where(Ranking.user_id == user_id, Ranking.dish_id == dish_id)
    )
    dish_type = db.session.get(DishType, dish_type_id) if dish_type_id is not None else None
    if dish_type is None:
        abort(404, description=f"Dish {dish_id} isn't in your rankings.")
    group = _locked_list(user_id, dish_type)
    ranking = next((r for r in group.ranked + group.marked if r.dish_id == dish_id), None)
    if ranking is None:  # removed by another request while this one waited for the lock
        db.session.rollback()
        abort(404, description=f"Dish {dish_id} isn't in your rankings.")
    try:
        services.remove(user_id, ranking)
    except DBAPIError as exc:
        _conflict(exc)
    _commit_or_409()
    etag = list_etag(_list_of(user_id, dish_type))
    return current_app.response_class(status=204, headers=_headers(etag))
