"""Reviews views (being built for issue 3)."""

from bellyfed.reviews import bp  # noqa: F401
