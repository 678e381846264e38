"""The directory: `GET /api/users` and `GET /api/users/{id}` for agents and admins."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.authz.principal import Role
from chalicelib.identity import users
from tests.support.assertions import assert_error


def _people(org: Any) -> dict[str, str]:
    """A few named people in the organization; name -> id."""
    people = {
        "Zoe Quinn": ("zq@people.example", Role.REQUESTER),
        "alice Ames": ("ames.a@people.example", Role.REQUESTER),
        "Alan Brook": ("brook@people.example", Role.AGENT),
        "Bob Allen": ("al.bob@people.example", Role.REQUESTER),
    }
    return {
        name: users.create_user(org.id, email=email, name=name, role=role, password=None).id
        for name, (email, role) in people.items()
    }


def _all_pages(client: Any, user: Any, query: str, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    url = f"/api/users?limit={limit}{query}"
    while True:
        page = client.get(url, token=user.token)
        assert page.status == 200, page.body
        assert len(page.json["items"]) <= limit
        items.extend(page.json["items"])
        if page.json["nextCursor"] is None:
            return items
        url = f"/api/users?limit={limit}{query}&cursor={page.json['nextCursor']}"


def test_staff_list_everyone_sorted_by_name_with_the_public_fields(
    client: Any, make_org: Any
) -> None:
    org = make_org()
    ids = _people(org)
    listed = _all_pages(client, org.agent, "", limit=2)
    names = [item["name"] for item in listed]
    assert names == sorted(names, key=str.casefold)
    assert len(listed) == 7 and len({item["id"] for item in listed}) == 7
    zoe = next(item for item in listed if item["name"] == "Zoe Quinn")
    assert zoe == {
        "id": ids["Zoe Quinn"],
        "name": "Zoe Quinn",
        "role": "REQUESTER",
        "active": True,
        "email": "zq@people.example",
    }
    assert _all_pages(client, org.admin, "", limit=100) == listed


def test_role_filter(client: Any, make_org: Any) -> None:
    org = make_org()
    ids = _people(org)
    agents = _all_pages(client, org.agent, "&role=AGENT", limit=1)
    assert {item["id"] for item in agents} == {org.agent.id, ids["Alan Brook"]}
    assert {item["role"] for item in agents} == {"AGENT"}


def test_prefix_search_on_name_or_email_case_insensitive_each_person_once(
    client: Any, make_org: Any
) -> None:
    org = make_org()
    ids = _people(org)
    # "al": Alan (name), alice (name), Bob Allen via e-mail "al.bob"; "ames.a" is alice's e-mail.
    found = _all_pages(client, org.agent, "&q=AL", limit=1)
    assert sorted(item["id"] for item in found) == sorted(
        [ids["Alan Brook"], ids["alice Ames"], ids["Bob Allen"]]
    )
    # alice matches by name and by e-mail ("a..."): still listed once.
    found = _all_pages(client, org.agent, "&q=a", limit=2)
    assert sorted(item["id"] for item in found) == sorted(
        [ids["Alan Brook"], ids["alice Ames"], ids["Bob Allen"], org.admin.id, org.agent.id]
    )
    assert _all_pages(client, org.agent, "&q=zq%40people", limit=5)[0]["id"] == ids["Zoe Quinn"]
    assert _all_pages(client, org.agent, "&q=nobody", limit=5) == []
    both = _all_pages(client, org.agent, "&q=al&role=AGENT", limit=5)
    assert [item["id"] for item in both] == [ids["Alan Brook"]]


def test_the_directory_follows_renames_role_changes_and_deactivation(
    client: Any, make_org: Any
) -> None:
    org = make_org()
    ids = _people(org)
    users.update_user(org.id, ids["Zoe Quinn"], actor_id=org.admin.id, name="Yara Quinn")
    users.update_user(org.id, ids["Bob Allen"], actor_id=org.admin.id, role=Role.AGENT)
    users.update_user(org.id, ids["alice Ames"], actor_id=org.admin.id, active=False)
    assert _all_pages(client, org.agent, "&q=zoe", limit=5) == []
    assert [i["name"] for i in _all_pages(client, org.agent, "&q=yara", limit=5)] == ["Yara Quinn"]
    assert ids["Bob Allen"] in {i["id"] for i in _all_pages(client, org.agent, "&role=AGENT", 5)}
    assert ids["Bob Allen"] not in {
        i["id"] for i in _all_pages(client, org.agent, "&role=REQUESTER", 5)
    }
    alice = _all_pages(client, org.agent, "&q=alice", limit=5)
    assert [(i["id"], i["active"]) for i in alice] == [(ids["alice Ames"], False)]
    assert len(_all_pages(client, org.agent, "", limit=100)) == 7


def test_one_person_and_404_for_anyone_else(client: Any, make_org: Any) -> None:
    org, other = make_org(), make_org()
    response = client.get(f"/api/users/{org.requester.id}", token=org.agent.token)
    assert response.status == 200
    assert response.json["email"] == org.requester.email and response.json["role"] == "REQUESTER"
    foreign = client.get(f"/api/users/{other.requester.id}", token=org.agent.token)
    unknown = client.get(f"/api/users/{'0' * 32}", token=org.agent.token)
    assert assert_error(foreign, 404, "NOT_FOUND") == assert_error(unknown, 404, "NOT_FOUND")


@pytest.mark.parametrize("path", ["/api/users", "/api/users/{id}"])
def test_requesters_are_refused(client: Any, make_org: Any, path: str) -> None:
    org = make_org()
    url = path.replace("{id}", org.agent.id)
    assert_error(client.get(url, token=org.requester.token), 403, "FORBIDDEN")


def test_bad_queries_are_400(client: Any, make_org: Any) -> None:
    org = make_org()
    for query in ("role=OWNER", "q=", "q=" + "a" * 101, "unknown=1", "limit=0"):
        assert_error(
            client.get(f"/api/users?{query}", token=org.agent.token), 400, "VALIDATION_ERROR"
        )


def test_a_cursor_is_bound_to_its_query(client: Any, make_org: Any) -> None:
    org = make_org()
    _people(org)
    first = client.get("/api/users?limit=1&q=a", token=org.agent.token).json
    other_query = client.get(
        f"/api/users?limit=1&q=b&cursor={first['nextCursor']}", token=org.agent.token
    )
    assert_error(other_query, 400, "VALIDATION_ERROR")
