"""Search terms: how ticket text becomes index terms and how `?q=` becomes a query (pure).

Text is folded the same way on both sides: Unicode NFKD, combining marks dropped (so `é` is
`e`), case-folded, then split into words of letters and digits. A text yields, per distinct word:

    w:<word>            the word itself
    p:<prefix>          each prefix of 2..PREFIX_MAX characters (word-prefix search)
    b:<word> <next>     each pair of neighbouring words (quoted phrases)

A query is a list of terms that must all match (AND): a bare word is `w:`, `word*` is `p:` (2..
PREFIX_MAX characters before the star), and a quoted phrase of n words is its n-1 pairs (a
phrase of three or more words is matched as "every neighbouring pair occurs", which can
over-match when the pairs occur in different places of the text).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import unicodedata
from collections.abc import Iterable

from chalicelib.core.errors import ValidationFailed

PREFIX_MIN = 2
PREFIX_MAX = 10
WORD_MAX = 40  # longer "words" (hashes, base64) are not indexed
QUERY_MAX_TERMS = 6
QUERY_MAX_LENGTH = 200

_WORD = re.compile(r"[^\W_]+")
_QUERY_PART = re.compile(r'"([^"]*)"|(\S+)')


def fold(text: str) -> str:
    """Case- and accent-insensitive form of `text` (NFKD, combining marks dropped, casefold)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKD", stripped.casefold())


def words(text: str) -> list[str]:
    """The folded words of `text`, in order (over-long ones dropped)."""
    return [word for word in _WORD.findall(fold(text)) if len(word) <= WORD_MAX]


def text_terms(texts: Iterable[str]) -> set[str]:
    """Every index term of the texts (words, prefixes, neighbouring pairs)."""
    terms: set[str] = set()
    for text in texts:
        sequence = words(text)
        for word in sequence:
            terms.add(f"w:{word}")
            for length in range(PREFIX_MIN, min(len(word), PREFIX_MAX) + 1):
                terms.add(f"p:{word[:length]}")
        for first, second in itertools.pairwise(sequence):
            terms.add(f"b:{first} {second}")
    return terms


@dataclasses.dataclass(frozen=True)
class SearchQuery:
    """The terms every match must carry, most selective kind first (words, pairs, prefixes)."""

    terms: tuple[str, ...]


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": "q", "message": message}])


def parse_query(q: str) -> SearchQuery:
    """`?q=` as a SearchQuery, or a 400 naming what is wrong."""
    if len(q) > QUERY_MAX_LENGTH:
        raise _refuse(f"must be at most {QUERY_MAX_LENGTH} characters")
    exact: list[str] = []
    prefixes: list[str] = []
    for phrase, bare in _QUERY_PART.findall(q):
        if phrase:
            sequence = words(phrase)
            if len(sequence) == 1:
                exact.append(f"w:{sequence[0]}")
            exact.extend(f"b:{a} {b}" for a, b in itertools.pairwise(sequence))
        elif bare.endswith("*"):
            stem = words(bare[:-1])
            if len(stem) != 1 or not PREFIX_MIN <= len(stem[0]) <= PREFIX_MAX:
                raise _refuse(
                    f"a prefix term is {PREFIX_MIN} to {PREFIX_MAX} letters or digits followed by *"
                )
            prefixes.append(f"p:{stem[0]}")
        else:
            exact.extend(f"w:{word}" for word in words(bare))
    terms = tuple(dict.fromkeys(exact + prefixes))
    if not terms:
        raise _refuse("must contain at least one word")
    if len(terms) > QUERY_MAX_TERMS:
        raise _refuse(f"may combine at most {QUERY_MAX_TERMS} words, pairs and prefixes")
    return SearchQuery(terms)
