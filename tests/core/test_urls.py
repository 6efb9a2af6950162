"""Where a form brings the diner back to: only local paths, and no header can make it fail."""

import pytest

from bellyfed.core.urls import browser_page, safe_next


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("http://localhost/search?q=laksa", "/search?q=laksa"),
        ("http://localhost\uff0f\uff0fevil.com/x", "/dishes/1/vote"),  # invalid under NFKC
        ("https://evil.example//evil.example/x", "/"),
    ],
)
def test_the_page_htmx_names_is_read_as_a_local_path_or_ignored(app, header, expected):
    with app.test_request_context("/dishes/1/vote", method="POST",
                                  headers={"HX-Current-URL": header}):  # fmt: skip
        assert browser_page() == expected


def test_safe_next_keeps_local_paths_only(app):
    with app.test_request_context("/"):
        assert safe_next("/account?tab=1") == "/account?tab=1"
        for target in ("//evil.com", "/\\evil.com", "https://evil.com", "javascript:alert(1)"):
            assert safe_next(target, "/home") == "/home"
