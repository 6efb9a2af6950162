"""Photos: validated uploads, thumbnails, bytes in S3, served safely."""

from flask import Blueprint

bp = Blueprint("photos", __name__)

from bellyfed.photos import views  # noqa: E402, F401  (registers the routes on bp)
