"""Every list route reads its query string the same way: one `limit` rule, strict parameters."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.api.routing import route_doc

# Each is refused: zero, negative, a digit to Python but not ASCII (`²`, Arabic-Indic 3),
# not a number, too large, beyond the maximum, empty, signed, padded.
BAD_LIMITS = ["0", "-1", "%C2%B2", "%D9%A3", "abc", "99999", "101", "", "%2B5", "%205", "1.5"]


def _list_routes(app: Any) -> list[str]:
    return sorted(
        path
        for path, methods in app.routes.items()
        if "GET" in methods
        and (doc := route_doc(methods["GET"].view_function)) is not None
        and doc.paginated
    )


@pytest.fixture
def list_urls(app: Any, client: Any, make_org: Any) -> tuple[str, list[str]]:
    """An admin's token and the URL of every list route, path parameters filled in."""
    org = make_org()
    ticket = client.post(
        "/api/tickets", json={"subject": "s", "body": "b"}, token=org.requester.token
    ).json
    hook = client.post(
        "/api/admin/webhooks",
        json={"url": "https://hooks.example.com/lists", "events": ["ticket.created"]},
        token=org.admin.token,
    ).json
    urls = [
        path.replace("{ticket_id}", ticket["id"]).replace("{webhook_id}", hook["id"])
        for path in _list_routes(app)
    ]
    assert all("{" not in url for url in urls), urls
    return org.admin.token, urls


def test_every_list_route_is_covered(app: Any) -> None:
    assert _list_routes(app) == [
        "/api/admin/audit",
        "/api/admin/groups",
        "/api/admin/mail/quarantine",
        "/api/admin/security/flags",
        "/api/admin/tokens",
        "/api/admin/users",
        "/api/admin/webhooks",
        "/api/admin/webhooks/{webhook_id}/deliveries",
        "/api/tickets",
        "/api/tickets/{ticket_id}/attachments",
        "/api/tickets/{ticket_id}/comments",
        "/api/users",
    ]


def test_a_limit_in_range_pages(client: Any, list_urls: tuple[str, list[str]]) -> None:
    token, urls = list_urls
    for url in urls:
        for limit in ("1", "100", "007"):
            response = client.get(f"{url}?limit={limit}", token=token)
            assert response.status == 200, (url, limit, response.body)
            assert set(response.json) == {"items", "nextCursor"}
            assert len(response.json["items"]) <= int(limit)


@pytest.mark.parametrize("bad", BAD_LIMITS)
def test_a_bad_limit_is_a_400_with_field_details(
    client: Any, list_urls: tuple[str, list[str]], bad: str
) -> None:
    token, urls = list_urls
    for url in urls:
        response = client.get(f"{url}?limit={bad}", token=token)
        assert response.status == 400, (url, bad, response.body)
        assert response.json == {
            "error": {
                "code": "VALIDATION_ERROR",
                "message": "The request is not valid.",
                "details": [{"field": "limit", "message": "must be an integer from 1 to 100"}],
            }
        }, url


def test_unknown_parameters_and_empty_cursors_are_refused(
    client: Any, list_urls: tuple[str, list[str]]
) -> None:
    token, urls = list_urls
    for url in urls:
        unknown = client.get(f"{url}?limit=5&offset=10", token=token)
        assert unknown.status == 400, (url, unknown.body)
        assert unknown.json["error"]["details"][0]["field"] == "offset"
        empty = client.get(f"{url}?cursor=", token=token)
        assert empty.status == 400, (url, empty.body)
        assert empty.json["error"]["details"] == [
            {"field": "cursor", "message": "invalid, expired or issued for another query"}
        ]
