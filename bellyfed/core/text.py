"""Small text helpers shared by features."""

import re
import unicodedata

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def slugify(value: str) -> str:
    """ASCII, lower-case, hyphen-separated: "Nasi Lemak (Ayam)" -> "nasi-lemak-ayam"."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return _NON_ALNUM.sub("-", ascii_text.lower().replace("'", "")).strip("-")
