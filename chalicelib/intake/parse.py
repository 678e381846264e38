"""Reading one inbound message: its text, its files, what was dropped, its history trimmed.

Python's `email` package with `policy=default` does the MIME work (transfer encodings, charsets,
RFC 2047 headers). This module decides what of it a ticket keeps:

- the text: the `text/plain` alternative when there is one, else the HTML one turned into text;
- the files: attachments and inline images, each within the size and count limits;
- what the limits dropped (a note the comment carries), so nothing vanishes silently;
- the comment body without the quoted history and the signature (`trim_reply`).

Nothing here touches AWS, and nothing here is logged: a body or an address never reaches a log.
"""

from __future__ import annotations

import dataclasses
import html
import re
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser


@dataclasses.dataclass(frozen=True)
class Limits:
    max_parts: int
    max_attachment_bytes: int
    max_attachments: int


@dataclasses.dataclass(frozen=True)
class MailFile:
    filename: str
    content_type: str
    content: bytes
    inline: bool


@dataclasses.dataclass(frozen=True)
class ParsedMail:
    message: EmailMessage
    message_id: str | None
    sender: str  # the bare From address, lower-cased ("" when there is none)
    sender_name: str
    subject: str
    text: str  # the whole text part (history included)
    files: tuple[MailFile, ...]
    dropped: tuple[str, ...]  # one line per part the limits dropped (no content, no address)
    recipients: tuple[str, ...]  # To, Cc, Delivered-To, X-Original-To addresses
    references: tuple[str, ...]  # In-Reply-To first, then References, newest first


def parse(raw: bytes, limits: Limits) -> ParsedMail:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    name, sender = parseaddr(header(message, "From"))
    text, files, dropped = _walk(message, limits)
    return ParsedMail(
        message=message,
        message_id=_message_id(header(message, "Message-ID")),
        sender=sender.strip().lower(),
        sender_name=name.strip(),
        subject=" ".join(header(message, "Subject").split()),
        text=text,
        files=tuple(files),
        dropped=tuple(dropped),
        recipients=tuple(_recipients(message)),
        references=tuple(_references(message)),
    )


def header(message: Message, name: str) -> str:
    """A header as text; "" when absent or undecodable."""
    try:
        value = message.get(name)
    except (ValueError, TypeError, IndexError):  # a header the parser cannot decode
        return ""
    return str(value) if value is not None else ""


def _message_id(value: str) -> str | None:
    match = re.search(r"<[^<>\s]+>", value)
    return match.group(0) if match else (value.strip() or None)


def _recipients(message: Message) -> list[str]:
    values = [header(message, name) for name in ("Delivered-To", "X-Original-To", "To", "Cc")]
    return [addr.strip().lower() for _, addr in getaddresses(values) if addr]


def _references(message: Message) -> list[str]:
    found = re.findall(r"<[^<>\s]+>", header(message, "In-Reply-To"))
    found += reversed(re.findall(r"<[^<>\s]+>", header(message, "References")))
    return list(dict.fromkeys(found))


def _content(part: EmailMessage) -> bytes | str | None:
    try:
        content = part.get_content()
    except (LookupError, ValueError, KeyError, AssertionError):  # unknown charset, bad encoding
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            return None
        return (
            payload.decode("utf-8", errors="replace")
            if part.get_content_maintype() == "text"
            else payload
        )
    if isinstance(content, (bytes, str)):
        return content
    return None


def _walk(message: EmailMessage, limits: Limits) -> tuple[str, list[MailFile], list[str]]:
    plain: str | None = None
    rich: str | None = None
    files: list[MailFile] = []
    dropped: list[str] = []
    leaves = [part for part in message.walk() if not part.is_multipart()]
    if len(leaves) > limits.max_parts:
        dropped.append(
            f"{len(leaves) - limits.max_parts} of {len(leaves)} parts (at most "
            f"{limits.max_parts} are read)"
        )
        leaves = leaves[: limits.max_parts]
    for part in leaves:
        assert isinstance(part, EmailMessage)
        disposition = part.get_content_disposition()
        ctype = part.get_content_type()
        filename = part.get_filename()
        if (
            disposition != "attachment"
            and filename is None
            and ctype in ("text/plain", "text/html")
        ):
            content = _content(part)
            if isinstance(content, str):
                if ctype == "text/plain" and plain is None:
                    plain = content
                elif ctype == "text/html" and rich is None:
                    rich = content
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload:
            continue
        name = _safe_name(filename, ctype, len(files) + 1)
        if len(payload) > limits.max_attachment_bytes:
            dropped.append(
                f"{name} ({len(payload)} bytes, over the {limits.max_attachment_bytes}-byte limit)"
            )
            continue
        if len(files) >= limits.max_attachments:
            dropped.append(f"{name} (more than {limits.max_attachments} attachments)")
            continue
        files.append(MailFile(name, ctype, payload, inline=disposition != "attachment"))
    text = plain if plain is not None else html_to_text(rich or "")
    return text.replace("\r\n", "\n"), files, dropped


def _safe_name(filename: str | None, content_type: str, position: int) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().strip(".")[:120]
    if not name:
        name = f"part-{position}.{content_type.rsplit('/', 1)[-1][:10] or 'bin'}"
    return name


class _TextOfHtml(HTMLParser):
    _BLOCK = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"}
    )
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0
        self.quote_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag == "blockquote":
            self.quote_depth += 1
            self.out.append("\n")
        elif tag in self._BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag == "blockquote":
            self.quote_depth = max(0, self.quote_depth - 1)
            self.out.append("\n")
        elif tag in self._BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        text = " ".join(data.split())
        if not text:
            return
        if self.quote_depth:
            text = "> " * self.quote_depth + text
        self.out.append(text + " ")


def html_to_text(markup: str) -> str:
    """Readable text of an HTML body: blocks become lines, blockquotes become `> ` quotes."""
    parser = _TextOfHtml()
    parser.feed(markup)
    parser.close()
    lines = [line.strip() for line in "".join(parser.out).splitlines()]
    text = "\n".join(lines)
    return html.unescape(re.sub(r"\n{3,}", "\n\n", text)).strip()


# --- Quoted history and signatures -----------------------------------------------------------

_HISTORY_MARKERS = (
    # Gmail, Apple Mail, Thunderbird: "On <date>, <name> wrote:" (possibly wrapped on two lines).
    re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*Le\b.{0,300}\ba écrit\s*:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*Am\b.{0,300}\bschrieb\b.{0,100}:\s*$", re.IGNORECASE | re.DOTALL),
    # Outlook.
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*_{10,}\s*$"),
)
_OUTLOOK_HEADER = re.compile(r"^\s*\**From:\**\s.+", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\**(Sent|Date|To|Subject):\**\s", re.IGNORECASE)
_SIGNATURE = re.compile(r"^-- ?$")
_MOBILE_SIGNATURE = re.compile(r"^\s*Sent from my \w+", re.IGNORECASE)


def trim_reply(text: str) -> str:
    """The new part of a reply: the text before its quoted history and signature."""
    lines = text.replace("\r\n", "\n").split("\n")
    cut = len(lines)
    for index, line in enumerate(lines):
        two = line + " " + lines[index + 1] if index + 1 < len(lines) else line
        if any(marker.match(line) for marker in _HISTORY_MARKERS) or (
            index + 1 < len(lines)
            and not line.rstrip().endswith(":")
            and _HISTORY_MARKERS[0].match(two)
            and lines[index + 1].rstrip().endswith("wrote:")
        ):
            cut = index
            break
        if _OUTLOOK_HEADER.match(line) and any(
            _OUTLOOK_NEXT.match(following) for following in lines[index + 1 : index + 4]
        ):
            cut = index
            break
        if _SIGNATURE.match(line) or _MOBILE_SIGNATURE.match(line):
            cut = index
            break
    kept = lines[:cut]
    # A trailing block of "> " quotes (bottom-posting clients put the history last).
    while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith(">")):
        kept.pop()
    return "\n".join(kept).strip()
