"""XSS: every payload of the corpus, rendered as a ticket body and as a comment, parses (with an
HTML parser, as a browser would tokenize it) into no script element, no event-handler attribute,
no dangerous URL scheme, and only allowlisted tags; links carry rel=noopener noreferrer nofollow."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from chalicelib.tickets.markdown_render import ALLOWED_TAGS, render_markdown
from tests.support.orgs import TestOrg

CORPUS = Path(__file__).with_name("xss_payloads.txt")
DANGEROUS_SCHEMES = ("javascript:", "data:", "vbscript:")
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "background", "srcdoc"}
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")


def load_payloads() -> list[str]:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [line.replace("\\n", "\n") for line in lines if line and not line.startswith("# ")]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def violations(rendered: str) -> list[str]:
    """Everything in the HTML a browser could execute or that escapes the allowlist."""
    parser = _Collector()
    parser.feed(rendered)
    parser.close()
    found: list[str] = []
    for tag, attrs in parser.tags:
        if tag == "script":
            found.append("script element")
        if tag not in ALLOWED_TAGS:
            found.append(f"tag {tag}")
        names = {name for name, _ in attrs}
        for name, value in attrs:
            if name.startswith("on"):
                found.append(f"event handler {name}")
            if name == "style":
                found.append("style attribute")
            if name in URL_ATTRIBUTES:
                url = _INVISIBLE.sub("", html.unescape(value or "")).lower()
                if url.startswith(DANGEROUS_SCHEMES) or not url.startswith(
                    ("http:", "https:", "mailto:")
                ):
                    found.append(f"url {name}={value!r}")
        if tag == "a" and "href" in names:
            rel = dict(attrs).get("rel") or ""
            if set(rel.split()) != {"noopener", "noreferrer", "nofollow"}:
                found.append(f"link without rel: {rel!r}")
    return found


PAYLOADS = load_payloads()


def test_corpus_is_large_enough() -> None:
    assert len(PAYLOADS) >= 80
    assert len(set(PAYLOADS)) == len(PAYLOADS)


def test_detector_catches_what_it_claims() -> None:
    # The checks above must be able to fail: raw payloads trip them.
    assert violations("<script>alert(1)</script>") == ["script element", "tag script"]
    assert "event handler onerror" in violations("<img src=x onerror=alert(1)>")
    assert any("url href" in v for v in violations('<a href="jav&#x09;ascript:x">x</a>'))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_rendered_payload_is_inert(payload: str) -> None:
    assert violations(render_markdown(payload)) == []


def test_payloads_through_the_api(client: Any, make_org: Callable[..., TestOrg]) -> None:
    org = make_org()
    ticket = client.post(
        "/api/tickets", json={"subject": "xss", "body": PAYLOADS[0]}, token=org.requester.token
    ).json
    for payload in PAYLOADS[:40]:
        response = client.post(
            f"/api/tickets/{ticket['id']}/comments", json={"body": payload}, token=org.agent.token
        )
        assert response.status == 201
        assert response.json["bodyMarkdown"] == payload  # stored as sent
        assert violations(response.json["bodyHtml"]) == [], payload
    listed = client.get(
        f"/api/tickets/{ticket['id']}/comments?limit=100", token=org.requester.token
    ).json["items"]
    assert len(listed) == 40
    assert all(violations(item["bodyHtml"]) == [] for item in listed)
    assert (
        violations(
            client.get(f"/api/tickets/{ticket['id']}", token=org.agent.token).json["bodyHtml"]
        )
        == []
    )


def test_links_keep_safe_targets() -> None:
    rendered = render_markdown("[docs](https://ok.example/a?b=1) and <mailto:help@ok.example>")
    assert 'href="https://ok.example/a?b=1"' in rendered
    assert 'rel="noopener noreferrer nofollow"' in rendered
    assert violations(rendered) == []
