"""Safe redirects: only same-site relative paths are followed."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request, url_for


def safe_next(target: str | None, fallback: str | None = None) -> str:
    """``target`` if it is a local path ("/x"; not "//host"), else ``fallback`` or home."""
    default = fallback or url_for("restaurants.index")
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ch in target for ch in "\r\n\t"):
        return default
    return target


def browser_page() -> str:
    """The page in the diner's address bar: for HTMX, the page that made the request."""
    hx_url = request.headers.get("HX-Current-URL")
    if hx_url:
        try:
            parts = urlsplit(hx_url)
        except ValueError:  # a host invalid under NFKC (full-width slashes): ignore it
            return request.full_path.rstrip("?")
        return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))
    return request.full_path.rstrip("?")


def current_path() -> str:
    """Where a form rendered now should bring the diner back to.

    A GET renders the page it is for (htmx pushes fragment URLs such as a board's next page);
    a POST's own URL is an action, so it goes back to the page that sent it.
    """
    if request.method == "GET":
        return request.full_path.rstrip("?")
    return browser_page()
