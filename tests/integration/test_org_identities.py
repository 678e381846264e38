"""Identities per organization: the same e-mail in several organizations, login by organization."""

from __future__ import annotations

from typing import Any

from chalicelib.authz.principal import Role
from chalicelib.identity import users
from tests.support.assertions import assert_error
from tests.support.tickets import create_ticket

PASSWORD_A = "first organization password"  # pragma: allowlist secret
PASSWORD_B = "second organization password"  # pragma: allowlist secret


def _login(client: Any, organization: str, email: str, password: str) -> Any:
    body = {"organization": organization, "email": email, "password": password}
    return client.post("/api/auth/login", json=body)


def test_one_person_is_a_requester_of_two_organizations_with_separate_sessions(
    client: Any, make_org: Any
) -> None:
    acme, globex = make_org(), make_org()
    email = "pat@customer.example"
    in_acme = users.create_user(
        acme.id, email=email, name="Pat", role=Role.REQUESTER, password=PASSWORD_A
    )
    in_globex = users.create_user(
        globex.id, email=email.upper(), name="Pat G", role=Role.REQUESTER, password=PASSWORD_B
    )
    assert in_acme.id != in_globex.id
    acme_session = _login(client, acme.id, email, PASSWORD_A)
    globex_session = _login(client, globex.id, email, PASSWORD_B)
    assert acme_session.status == globex_session.status == 200
    assert acme_session.json["user"]["organizationId"] == acme.id
    assert globex_session.json["user"]["id"] == in_globex.id
    # Each account has its own password: acme's does not open globex's account.
    assert _login(client, globex.id, email, PASSWORD_A).status == 401

    acme_token, globex_token = acme_session.json["token"], globex_session.json["token"]
    mine_in_acme = client.post(
        "/api/tickets", json={"subject": "acme", "body": "x"}, token=acme_token
    ).json
    mine_in_globex = client.post(
        "/api/tickets", json={"subject": "globex", "body": "x"}, token=globex_token
    ).json
    create_ticket(client, acme.requester)  # someone else's ticket in acme
    acme_list = client.get("/api/tickets", token=acme_token).json["items"]
    globex_list = client.get("/api/tickets", token=globex_token).json["items"]
    assert [t["id"] for t in acme_list] == [mine_in_acme["id"]]
    assert [t["id"] for t in globex_list] == [mine_in_globex["id"]]
    assert client.get(f"/api/tickets/{mine_in_globex['id']}", token=acme_token).status == 404


def test_unknown_organization_answers_like_a_wrong_password(client: Any, make_org: Any) -> None:
    org = make_org()
    wrong = client.post("/api/auth/login", json=org.agent.login_body(password="wrong-pass-1"))
    unknown_org = client.post(
        "/api/auth/login", json=org.agent.login_body(organization="no-such-org")
    )
    malformed_org = client.post("/api/auth/login", json=org.agent.login_body(organization="#!"))
    other_org = client.post(
        "/api/auth/login", json=org.agent.login_body(organization=make_org().id)
    )
    bodies = {r.body for r in (wrong, unknown_org, malformed_org, other_org)}
    assert {r.status for r in (wrong, unknown_org, malformed_org, other_org)} == {401}
    assert len(bodies) == 1
    assert assert_error(wrong, 401, "UNAUTHENTICATED")


def test_login_requires_the_organization(client: Any, make_org: Any) -> None:
    org = make_org()
    body = org.agent.login_body()
    del body["organization"]
    assert_error(client.post("/api/auth/login", json=body), 400, "VALIDATION_ERROR")


def test_the_organization_slug_is_case_insensitive_like_the_email(
    client: Any, make_org: Any
) -> None:
    org = make_org()
    response = client.post(
        "/api/auth/login", json=org.agent.login_body(organization=f" {org.id.upper()}")
    )
    assert response.status == 200


def test_duplicates_are_409_only_within_one_organization(client: Any, make_org: Any) -> None:
    acme, globex = make_org(), make_org()
    body = {
        "email": "new.agent@shared.example",
        "name": "New Agent",
        "role": "AGENT",
    }
    first = client.post("/api/admin/users", json=body, token=acme.admin.token)
    second = client.post("/api/admin/users", json=body, token=globex.admin.token)
    assert first.status == second.status == 201
    again = client.post(
        "/api/admin/users",
        json={**body, "email": "NEW.agent@shared.example"},
        token=acme.admin.token,
    )
    assert_error(again, 409, "CONFLICT")


def test_find_by_email_stays_in_its_organization(make_org: Any) -> None:
    acme, globex = make_org(), make_org()
    assert users.find_by_email(acme.id, acme.agent.email.upper()).id == acme.agent.id  # type: ignore[union-attr]
    assert users.find_by_email(globex.id, acme.agent.email) is None
