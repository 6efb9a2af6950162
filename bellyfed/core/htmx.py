"""One place that decides between a full page and an HTMX fragment."""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, render_template, request


def is_htmx() -> bool:
    """True for an HTMX request wanting a fragment (a history restore wants the page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render_page_or_fragment(
    page_template: str, fragment_template: str, status: int = 200, **context: Any
) -> Response:
    """Render the fragment for HTMX, else the page (which includes the fragment)."""
    template = fragment_template if is_htmx() else page_template
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response
