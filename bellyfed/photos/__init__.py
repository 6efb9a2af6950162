"""Photos: validated uploads, thumbnails, bytes in S3, served safely."""

from flask import Blueprint

bp = Blueprint("photos", __name__, cli_group="photos")

from bellyfed.photos import commands, views  # noqa: E402, F401  (registers routes and commands on bp)
