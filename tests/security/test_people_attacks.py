"""Attacks on identities per organization, the directory and tickets on behalf of a customer:
nothing an organization's admin, agent or requester can call tells whether an address exists in
another organization, reaches another organization's people, or files a ticket for them."""

from __future__ import annotations

from typing import Any

from chalicelib.authz.principal import Role
from chalicelib.identity import users
from chalicelib.tickets import repository
from tests.support.assertions import assert_error
from tests.support.orgs import mint_api_token

NEW_USER = {
    "name": "New Agent",
    "role": "AGENT",
}
VOLATILE = ("id", "organizationId")


def _stable(response: Any) -> tuple[int, dict[str, Any]]:
    return response.status, {k: v for k, v in response.json.items() if k not in VOLATILE}


def test_creating_an_address_another_organization_has_answers_the_same(
    client: Any, make_org: Any
) -> None:
    acme, globex, initech = make_org(), make_org(), make_org()
    body = {**NEW_USER, "email": "new.agent@acme.example"}
    # Nobody has the address yet: globex creates it.
    unknown_elsewhere = client.post("/api/admin/users", json=body, token=globex.admin.token)
    # acme has it now: initech creates it too, and gets exactly what globex got.
    acme_has_it = users.create_user(
        acme.id, email=body["email"], name="Acme's", role=Role.AGENT, password=None
    )
    known_elsewhere = client.post("/api/admin/users", json=body, token=initech.admin.token)
    assert (
        _stable(unknown_elsewhere) == _stable(known_elsewhere) == (201, _stable(known_elsewhere)[1])
    )
    assert known_elsewhere.json["id"] != acme_has_it.id
    # Each organization's account is its own; acme's is untouched.
    assert users.get_user(acme.id, acme_has_it.id).name == "Acme's"


def test_a_customer_by_an_address_of_another_organization_is_a_new_local_requester(
    client: Any, make_org: Any
) -> None:
    acme, globex = make_org(), make_org()
    ticket = {"subject": "Phoned in", "body": "x"}

    def on_behalf(email: str) -> Any:
        body = {**ticket, "requester": {"email": email, "name": "Caller"}}
        return client.post("/api/tickets", json=body, token=globex.agent.token)

    known_in_acme = on_behalf(acme.requester.email)
    unknown = on_behalf("nobody-anywhere@customer.example")
    assert known_in_acme.status == unknown.status == 201
    assert known_in_acme.json["requesterId"] != acme.requester.id
    assert known_in_acme.json["requesterName"] == unknown.json["requesterName"] == "Caller"
    local = users.find_by_email(globex.id, acme.requester.email)
    assert local is not None and local.id == known_in_acme.json["requesterId"]
    # acme's requester still sees none of it.
    assert client.get("/api/tickets", token=acme.requester.token).json["items"] == []


def test_a_foreign_requester_id_files_nothing_anywhere(client: Any, make_org: Any) -> None:
    acme, globex = make_org(), make_org()
    foreign = client.post(
        "/api/tickets",
        json={"subject": "s", "body": "b", "requesterId": acme.requester.id},
        token=globex.agent.token,
    )
    unknown = client.post(
        "/api/tickets",
        json={"subject": "s", "body": "b", "requesterId": "e" * 32},
        token=globex.agent.token,
    )
    assert assert_error(foreign, 400, "VALIDATION_ERROR") == assert_error(
        unknown, 400, "VALIDATION_ERROR"
    )
    for org in (acme, globex):
        plan = repository.plan_ticket_query(org.id, repository.ListFilters())
        assert repository.fill_ticket_page(plan, 10, None).items == []


def test_the_directory_never_shows_another_organizations_people(client: Any, make_org: Any) -> None:
    acme, globex = make_org(), make_org()
    address = acme.requester.email
    searched = client.get(f"/api/users?q={address}", token=globex.agent.token)
    assert searched.status == 200 and searched.json["items"] == []
    listed = client.get("/api/users?limit=100", token=globex.admin.token).json["items"]
    assert {item["id"] for item in listed} == {
        globex.admin.id,
        globex.agent.id,
        globex.requester.id,
    }
    assert acme.id not in searched.body.decode() + str(listed)
    assert_error(
        client.get(f"/api/users/{acme.agent.id}", token=globex.admin.token), 404, "NOT_FOUND"
    )


def test_a_directory_cursor_of_another_organization_is_refused(client: Any, make_org: Any) -> None:
    acme, globex = make_org(), make_org()
    cursor = client.get("/api/users?limit=1", token=acme.agent.token).json["nextCursor"]
    assert cursor
    stolen = client.get(f"/api/users?limit=1&cursor={cursor}", token=globex.agent.token)
    assert_error(stolen, 400, "VALIDATION_ERROR")


def test_tokens_need_the_directory_scope_and_a_staff_owner(client: Any, make_org: Any) -> None:
    org = make_org()
    without = mint_api_token(org.admin, ["tickets:read"])
    assert_error(client.get("/api/users", token=without), 403, "FORBIDDEN")
    with_scope = mint_api_token(org.admin, ["users:read"])
    assert client.get("/api/users", token=with_scope).status == 200
    requester_token = mint_api_token(org.requester, ["users:read"])
    assert_error(client.get("/api/users", token=requester_token), 403, "FORBIDDEN")


def test_a_passwordless_customer_cannot_be_logged_in_to(client: Any, make_org: Any) -> None:
    org = make_org()
    client.post(
        "/api/tickets",
        json={"subject": "s", "body": "b", "requester": {"email": "c@c.example", "name": "C"}},
        token=org.agent.token,
    )
    for password in ("", "x", "None", "null"):
        body = {"organization": org.id, "email": "c@c.example", "password": password or " "}
        assert client.post("/api/auth/login", json=body).status == 401
