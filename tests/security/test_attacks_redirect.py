"""Open redirects: every way ``next`` reaches a redirect (log-in, sign-up, the ranking form, the
vote buttons, the log-in page's own link) is tried with targets that leave the site or run script:
``//evil.com``, ``/\\evil.com``, ``https:evil.com``, ``javascript:``, tabs and newlines browsers
strip, encoded and double-encoded forms. Every redirect stays on the site.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.security.conftest import COUNTS, forms_on
from tests.web import csrf_token, log_in

EVIL = [
    "//evil.com", "///evil.com", "////evil.com/x", "/\\evil.com", "\\\\evil.com", "/\\/evil.com",
    "\\/evil.com", "https://evil.com", "https:evil.com", "http:/evil.com", "https:/\\evil.com",
    "HTTPS://EVIL.COM", "//evil.com@localhost", "//localhost@evil.com", "https://localhost.evil.com",
    "evil.com", "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
    "java\tscript:alert(1)", "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)", "/\t/evil.com", "/\n/evil.com", "/\r\n/evil.com", "\t//evil.com",
    " //evil.com", "//evil%2Ecom", "//%65vil.com", "/%2F/evil.com", "%2F%2Fevil.com",
    "%5C%5Cevil.com", "\uff0f\uff0fevil.com", "\u3031evil.com", "//evil.com/%2e%2e", "/.//evil.com",
]  # fmt: skip


def variants(target: str) -> list[str]:
    """The query-string value as sent: encoded once (arrives as ``target``) and twice."""
    return [quote(target, safe=""), quote(quote(target, safe=""), safe="")]


def assert_local_path(path: str) -> None:
    """A path of this site, as a browser would resolve it."""
    seen = "".join(ch for ch in path if ch not in "\t\r\n").replace("\\", "/")
    assert seen.startswith("/"), path
    assert not seen.startswith("//"), path


def assert_stays_here(response) -> None:
    assert response.status_code in (301, 302, 303), response.status_code
    location = response.headers["Location"]
    # What a browser would do with it: tabs and newlines dropped, backslashes read as slashes.
    seen = "".join(ch for ch in location if ch not in "\t\r\n").replace("\\", "/")
    parts = urlsplit(seen)
    assert parts.scheme in ("", "http", "https"), location
    assert parts.netloc in ("", "localhost"), location
    assert not seen.startswith("//"), location


@pytest.fixture
def diner(world, new_browser):
    return new_browser(world.alice)


def test_a_signed_in_visit_to_the_login_page_never_leaves(diner):
    for target in EVIL:
        for value in variants(target):
            for page in ("/auth/login", "/auth/register"):
                assert_stays_here(diner.get(f"{page}?next={value}"))
                COUNTS["open redirect: next= attempts"] += 1


def test_logging_in_never_leaves(world, new_browser):
    # Each costs an argon2 check: these shapes cover the parser (the GET test above takes all).
    for target in (
        "//evil.com",
        "/\\evil.com",
        "https:evil.com",
        "javascript:alert(1)",
        "/\t/evil.com",
        "%2F%2Fevil.com",
    ):
        client = new_browser(None)
        token = csrf_token(client, "/auth/login")
        response = client.post(
            f"/auth/login?next={quote(target, safe='')}",
            data={"csrf_token": token, "identifier": world.alice.username,
                  "password": "correct horse battery staple"},
        )  # fmt: skip
        assert_stays_here(response)
        COUNTS["open redirect: next= attempts"] += 1


def test_the_ranking_form_and_vote_buttons_never_leave(world, diner):
    token = csrf_token(diner, "/account")
    for target in EVIL:
        url = f"/dishes/{world.dish.id}/ranking?next={quote(target, safe='')}"
        page = diner.get(url)
        assert page.status_code == 200
        carried = [f.fields["next"] for f in forms_on(page, url) if "next" in f.fields]
        assert carried  # the form carries it on to its POST: as a path of ours only
        for value in carried:
            assert_local_path(value)
        response = diner.post(
            f"/dishes/{world.dish.id}/ranking",
            data={"csrf_token": token, "choice": "acceptable", "notes": "", "next": target},
        )
        assert_stays_here(response)
        response = diner.post(
            f"/dishes/{world.dish.id}/vote", data={"csrf_token": token, "value": "like",
                                                   "next": target},
        )  # fmt: skip
        assert_stays_here(response)
        COUNTS["open redirect: next= attempts"] += 3


def test_the_login_redirect_only_carries_a_local_referrer(world, new_browser):
    """A form POST that needs a log-in comes back to the page it was on: only one of ours."""
    client = new_browser(None)
    token = csrf_token(client, "/auth/login")
    for target in (t for t in EVIL if not {"\r", "\n"} & set(t)):  # not sendable in a header
        referrer = target if target.startswith("http") else f"http://localhost{target}"
        response = client.post(f"/dishes/{world.dish.id}/vote",
                               data={"csrf_token": token, "value": "like"},
                               headers={"Referer": referrer})  # fmt: skip
        assert_stays_here(response)
        carried = parse_qs(urlsplit(response.headers["Location"]).query).get("next", ["/"])[0]
        assert_local_path(carried)
        COUNTS["open redirect: next= attempts"] += 1


def test_a_local_next_still_works(world, new_browser):
    """The control: a path of ours is followed (so the refusals above are not blanket ones)."""
    client = new_browser(None)
    log_in(client, world.alice.username)
    assert client.get("/auth/login?next=/me/votes").headers["Location"] == "/me/votes"
