"""Ranking a dish from its card, the diner's top-5 pages and history."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from bellyfed.analytics.events import record
from bellyfed.core.htmx import is_htmx, render_page_or_fragment
from bellyfed.core.urls import safe_next
from bellyfed.dishes.models import Dish
from bellyfed.extensions import db
from bellyfed.photos.services import (
    PhotoRejected,
    PhotoStorageUnavailable,
    is_empty_upload,
    save_upload,
)
from bellyfed.rankings import bp, services
from bellyfed.rankings.forms import RankForm
from bellyfed.rankings.models import Ranking
from bellyfed.rankings.queries import history_for, lists_for, my_rankings_for, recently_dropped


def _dish_or_404(dish_id: int) -> Dish:
    dish = db.session.get(Dish, dish_id)
    if dish is None or not dish.restaurant.is_active:
        abort(404, description="We couldn't find that dish.")
    return dish


def _own_ranking_or_404(ranking_id: int) -> Ranking:
    ranking = db.session.get(Ranking, ranking_id)
    if ranking is None or ranking.user_id != current_user.id:
        abort(404, description="That ranking isn't yours, or no longer exists.")
    return ranking


@bp.route("/dishes/<int:dish_id>/ranking", methods=["GET", "POST"])
@login_required
def rank_dish(dish_id: int) -> ResponseReturnValue:
    """Rank a dish at a position, or mark it with a taste status."""
    dish = _dish_or_404(dish_id)
    current = my_rankings_for(current_user.id, [dish.id]).get(dish.id)
    form = RankForm()
    if request.method == "GET":
        form.next.data = safe_next(
            request.args.get("next"), url_for("restaurants.detail", slug=dish.restaurant.slug)
        )
        if current is not None:
            form.choice.data = str(current.position) if current.position else current.taste_status
            form.notes.data = current.notes
    elif form.validate_on_submit():
        outcome = _apply(form, dish, current)
        if outcome is not None:
            return outcome
    status = 422 if request.method == "POST" else 200
    return render_template("rankings/rank_dish.html", dish=dish, form=form, current=current), status


def _apply(form: RankForm, dish: Dish, current: Ranking | None) -> ResponseReturnValue | None:
    """Make the change; None when the form must be shown again with its errors."""
    notes = (form.notes.data or "").strip()
    position = form.position
    if dish.dish_type_id is None:  # before any upload, so a refusal leaves nothing behind
        form.choice.errors.append(
            f"{dish.name} isn't a dish type diners rank (drinks and sides aren't)."
        )
        return None
    photo_id = None
    if position is not None:
        needs_photo = current is None or current.photo_id is None
        if not notes:
            form.notes.errors.append("Add a note: what makes it a top-5 dish for you?")
        if needs_photo and is_empty_upload(form.photo.data):
            form.photo.errors.append("Add a photo of the dish for a top-5 place.")
        if form.notes.errors or form.photo.errors:
            return None
        if not is_empty_upload(form.photo.data):
            try:
                photo_id = save_upload(
                    form.photo.data, uploader_id=current_user.id, alt_text=dish.name
                ).id
            except (PhotoRejected, PhotoStorageUnavailable) as exc:
                form.photo.errors.append(str(exc))
                return None
    try:
        if position is None:
            services.mark(current_user.id, dish, form.choice.data, notes=notes)
            message = f"Marked {dish.name} as “{form.choice.data.replace('_', ' ')}”."
        else:
            change = services.place(current_user.id, dish, position, notes=notes, photo_id=photo_id)
            message = _placed_message(dish, change)
        db.session.commit()
    except services.RankingError as exc:
        db.session.rollback()
        form.choice.errors.append(str(exc))
        return None
    except IntegrityError:
        db.session.rollback()
        form.choice.errors.append("Your rankings changed in another window. Please try again.")
        return None
    record("metric", "rankings")
    flash(message, "success")
    return redirect(safe_next(form.next.data, url_for("rankings.mine")))


def _placed_message(dish: Dish, change: services.Change) -> str:
    type_name = dish.dish_type.name if dish.dish_type else "dish"
    message = f"{dish.name} is #{change.position} in your {type_name} top 5."
    if change.clamped_from:
        message += f" (#{change.clamped_from} needs the places above it filled first.)"
    for fallen in change.dropped:
        message += f" {fallen.name} dropped out of your top 5."
    return message


@bp.get("/me/rankings")
@login_required
def mine() -> ResponseReturnValue:
    """My top-5 for each dish type, and my taste marks."""
    return render_template("rankings/mine.html", lists=lists_for(current_user.id))


@bp.post("/me/rankings/<int:ranking_id>/move")
@login_required
def move(ranking_id: int) -> ResponseReturnValue:
    """Move a ranked dish up or down one place."""
    ranking = _own_ranking_or_404(ranking_id)
    step = {"up": -1, "down": 1}.get(request.form.get("direction", ""))
    if step is None:
        abort(400, description="Say whether to move it up or down.")
    error = None
    try:
        services.move(current_user.id, ranking, step)
        db.session.commit()
    except services.RankingError as exc:
        db.session.rollback()
        error = str(exc)
        if not is_htmx():
            flash(error, "error")
    return _after_list_change(ranking.dish_type_id, error)


@bp.post("/me/rankings/<int:ranking_id>/remove")
@login_required
def remove(ranking_id: int) -> ResponseReturnValue:
    """Take a dish out of my rankings."""
    ranking = _own_ranking_or_404(ranking_id)
    dish_type_id, name = ranking.dish_type_id, ranking.dish.name
    services.remove(current_user.id, ranking)
    db.session.commit()
    if not is_htmx():
        flash(f"Removed {name} from your rankings.", "success")
    return _after_list_change(dish_type_id)


def _after_list_change(dish_type_id: int, error: str | None = None) -> ResponseReturnValue:
    """HTMX swaps the one list (with any error in it); without JavaScript, back to the page."""
    if not is_htmx():
        return redirect(url_for("rankings.mine"))
    lists = lists_for(current_user.id, dish_type_id)
    return render_page_or_fragment(
        "rankings/mine.html",
        "rankings/_type_list.html",
        group=lists[0] if lists else None,
        lists=lists,
        error=error,
    )


@bp.get("/me/rankings/history")
@login_required
def history() -> ResponseReturnValue:
    """Every change to my rankings, and what recently dropped out."""
    return render_template(
        "rankings/history.html",
        entries=history_for(current_user.id),
        dropped=recently_dropped(current_user.id),
    )
