"""Photos: validated uploads, thumbnails, bytes in S3, served safely."""

from flask import Blueprint
from flask.blueprints import BlueprintSetupState

bp = Blueprint("photos", __name__, cli_group="photos")


@bp.record_once
def _warn_if_scanning_is_off(state: BlueprintSetupState) -> None:
    # Runs once, when create_app registers the blueprint: the deploy log says uploads go unscanned.
    from bellyfed.photos.scan import warn_if_off_in_production

    warn_if_off_in_production(state.app)


from bellyfed.photos import commands, views  # noqa: E402, F401  (registers routes and commands on bp)
