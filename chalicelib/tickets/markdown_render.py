"""Markdown to safe HTML: `markdown` renders, `nh3` sanitizes with explicit allowlists.

Raw HTML in the Markdown is rendered by `markdown` and then cut down by the sanitizer to the tags,
attributes and URL schemes listed here; everything else is dropped (`script`/`style` with their
content). Links get `rel="noopener noreferrer nofollow"`. Images are not allowed: a remote image
in a ticket is a tracking pixel on every agent who opens it; files travel as attachments.
A URL attribute survives only when it is absolute with an allowed scheme, so protocol-relative
(`//evil.example`) and relative links are dropped as well.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import nh3

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "code",
        "del",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "th": {"align"},
    "td": {"align"},
}
URL_ATTRIBUTES = frozenset({"href"})
ALLOWED_URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
# Dropped together with their content (never shown as text either).
CLEAN_CONTENT_TAGS: frozenset[str] = frozenset({"script", "style"})

MARKDOWN_EXTENSIONS = ("fenced_code", "tables", "sane_lists")

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")


def _keep_absolute_allowed_urls(tag: str, attribute: str, value: str) -> str | None:
    """nh3 attribute filter: URL attributes only with an explicitly allowed scheme."""
    if attribute not in URL_ATTRIBUTES:
        return value
    match = _SCHEME.match(value.strip())
    if match is None or match.group(1).lower() not in ALLOWED_URL_SCHEMES:
        return None
    return value


@functools.cache
def _cleaner() -> nh3.Cleaner:
    # Imported on first use, not at module import: the API function's cold start must not pay
    # for the sanitizer (nor for `markdown`, below) before a request actually renders a body.
    import nh3

    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_keep_absolute_allowed_urls,
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


def sanitize_html(html: str) -> str:
    """Reduce arbitrary HTML to the allowlists above."""
    return str(_cleaner().clean(html))


def render_markdown(text: str) -> str:
    """Markdown rendered to HTML, then sanitized (the only HTML the API ever returns)."""
    # A Markdown instance keeps state between conversions: one per call is thread-safe.
    # Lazy for the cold start (see `_cleaner`); after the first call this is a dict lookup.
    import markdown

    renderer = markdown.Markdown(extensions=list(MARKDOWN_EXTENSIONS), output_format="html")
    return sanitize_html(renderer.convert(text))
