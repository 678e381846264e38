"""The password lifecycle: change (knowing the current one), reset by e-mail, admin-initiated
reset, and first-login setup for invited users, on the one-time tokens of `one_time_tokens`.

Every new password passes the length rule and the breached/common list. Every password write
bumps the user's `password_version` (outdating every token issued before it) and sets
`sessions_valid_from_ms`, which ends every session issued before it; API tokens are separate
credentials and stay (an admin revokes them explicitly). Changes are audited in the same
transaction. A reset *request* makes the same DynamoDB calls for a known and an unknown
address and is answered identically (docs/identity.md, "Password reset").
"""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from chalicelib.audit.trail import AuditEntry, transact
from chalicelib.core.dynamo import is_condition_failure
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.keyed import email_hash
from chalicelib.core.observability import logger
from chalicelib.core.org_keys import org_pk, org_scoped
from chalicelib.identity import one_time_tokens, revocation, users
from chalicelib.identity.models import USER_PREFIX, OrganizationModel, UserModel
from chalicelib.identity.one_time_tokens import InvalidToken
from chalicelib.identity.passwords import hash_password, validate_new_password, verify_password
from chalicelib.mail import send, templates
from chalicelib.ratelimit import limiter
from chalicelib.security_events import emit

# Reset mails per account (organization + address, known or not) per window: more requests are
# answered the same way but send nothing, so nobody can flood an inbox through this route.
RESET_MAILS_PER_ACCOUNT = limiter.Limit(3, 3600)
# Where the request for an unknown address writes its (never mailed) token: a partition no
# organization can have, so both paths make the same write. DynamoDB's TTL removes it.
_NO_ORGANIZATION = "-"
_NO_USER = "0" * 32


def _user_item(organization_id: str, user_id: str) -> UserModel:
    try:
        return UserModel.get(
            org_pk(organization_id), f"{USER_PREFIX}{user_id}", consistent_read=True
        )
    except DoesNotExist:
        raise NotFound() from None


def _version(item: UserModel) -> int:
    return int(item.password_version or 0)


def _version_is(version: int) -> Condition:
    condition = UserModel.password_version == version
    return condition | UserModel.password_version.does_not_exist() if version == 0 else condition


def _password_ops(tx: TransactWrite, item: UserModel, new_password_hash: str) -> None:
    """The new hash, the next password version and the end of every earlier session, on the
    condition that the user is active and the password has not changed meanwhile."""
    version = _version(item)
    tx.update(
        item,
        actions=[
            UserModel.password_hash.set(new_password_hash),
            UserModel.password_version.set(version + 1),
            UserModel.sessions_valid_from_ms.set(revocation.now_ms()),
        ],
        condition=_version_is(version) & (UserModel.active == True),  # noqa: E712
    )


def change_password(
    organization_id: str, user_id: str, current_password: str, new_password: str
) -> users.User:
    """Change one's own password: the current one must match. Ends every session of the user
    issued before now (the caller gets a new one from the route). 400 on a wrong current
    password or a refused new one; 409 if the password changed concurrently."""
    item = _user_item(organization_id, user_id)
    if not verify_password(current_password, item.password_hash):
        emit("security.failed_login", reason="wrong_current_password", target_id=user_id)
        raise ValidationFailed(
            "The current password is wrong.",
            details=[{"field": "currentPassword", "message": "does not match"}],
        )
    validate_new_password(new_password, "newPassword")
    new_hash = hash_password(new_password)
    entry = AuditEntry(
        organization_id=organization_id,
        actor_id=user_id,
        action="user.password_change",
        target_type="user",
        target_id=user_id,
        after={"sessions": "revoked"},
    )
    try:
        transact(entry, lambda tx: _password_ops(tx, item, new_hash))
    except TransactWriteError as error:
        if is_condition_failure(error):
            raise Conflict("The password changed meanwhile; retry.") from error
        raise
    emit("security.token_lifecycle", action="password_changed", target_id=user_id)
    return users.get_user(organization_id, user_id)


def complete_with_token(token: str, new_password: str) -> users.User:
    """Set a new password with a reset or setup token (once). Ends every session of the user.

    Any token problem is the same 400 (`InvalidToken`); a refused password is a 400 naming the
    rule, and leaves the token usable.
    """
    item = one_time_tokens.find_valid(token)
    validate_new_password(new_password, "newPassword")
    organization_id, user_id = item.organization_id, item.user_id
    try:
        user = _user_item(organization_id, user_id)
    except NotFound:
        raise InvalidToken() from None
    if not user.active or _version(user) != int(item.password_version):
        raise InvalidToken()
    new_hash = hash_password(new_password)
    purpose = item.purpose

    def build(tx: TransactWrite) -> None:
        one_time_tokens.consume_ops(tx, item)
        _password_ops(tx, user, new_hash)

    entry = AuditEntry(
        organization_id=organization_id,
        actor_id=user_id,
        action=f"user.password_{purpose}",
        target_type="user",
        target_id=user_id,
        after={"sessions": "revoked"},
    )
    try:
        transact(entry, build)
    except TransactWriteError as error:
        if is_condition_failure(error):
            raise InvalidToken() from error
        raise
    emit(
        "security.token_lifecycle",
        action=f"password_{purpose}_completed",
        target_id=user_id,
        target_organization_id=organization_id,
    )
    return users.get_user(organization_id, user_id)


def _organization_name(organization_id: str) -> str:
    try:
        return str(OrganizationModel.get(org_pk(organization_id), "ORG").name)
    except DoesNotExist:
        return organization_id


def _mail(kind: str, user: users.User, organization_name: str, token: str) -> bool:
    """Send the reset or invitation mail; False (logged by kind only) if SES refused it."""
    build = templates.invitation if kind == one_time_tokens.SETUP else templates.password_reset
    message = build(
        to=user.email,
        name=user.name,
        organization_name=organization_name,
        token=token,
        ttl_seconds=one_time_tokens.ttl_seconds(kind),
    )
    try:
        send(message)
    except Exception:
        logger.exception("mail delivery failed", extra={"mail_kind": message.kind})
        return False
    return True


def _admitted(organization_id: str, email: str) -> bool:
    try:
        key = org_scoped(organization_id, "PWRESET", email_hash(email))
        return limiter.hit(key, RESET_MAILS_PER_ACCOUNT).admitted
    except limiter.LimiterUnavailable:
        logger.error("reset mail limit unavailable; sending nothing")
        return False


def request_reset(organization_id: str, email: str) -> None:
    """Mail a reset link to the address if it is an active user of the organization.

    Known and unknown addresses make the same DynamoDB calls: the two reads of
    `users.find_by_email`, the per-account mail limit's counter, one organization read, one
    strongly consistent user read and one token write (for an unknown address, a user key and a
    token under a partition no organization has; that token is never mailed). Only the mail
    itself differs, which the route's time floor hides.
    """
    user = users.find_by_email(organization_id, email)
    admitted = _admitted(organization_id, email)
    organization_name = _organization_name(organization_id)
    emit("security.token_lifecycle", action="password_reset_requested", email=email)
    if not admitted:
        emit("security.rate_limit_violation", reason="reset_mail_limit", email=email)
        return
    known = user is not None and user.active
    owner = (user.organization_id, user.id) if user and known else (_NO_ORGANIZATION, _NO_USER)
    try:
        item: UserModel | None = _user_item(*owner)
    except NotFound:
        item = None
    version = _version(item) if item is not None else 0
    token, token_item = one_time_tokens.new_token(*owner, one_time_tokens.RESET, version)
    token_item.save(condition=type(token_item).pk.does_not_exist())
    if user is not None and known and item is not None:
        _mail(one_time_tokens.RESET, user, organization_name, token)


def admin_reset(organization_id: str, user_id: str, *, actor_id: str) -> bool:
    """An admin sends a user a reset link (audited); the current password keeps working until
    the link is used. 404 for an unknown user, 409 for a deactivated one. Returns whether the
    mail was handed to SES."""
    item = _user_item(organization_id, user_id)
    if not item.active:
        raise Conflict("The user is deactivated.")
    token, token_item = one_time_tokens.new_token(
        organization_id, user_id, one_time_tokens.RESET, _version(item)
    )
    entry = AuditEntry(
        organization_id=organization_id,
        actor_id=actor_id,
        action="user.password_reset_requested",
        target_type="user",
        target_id=user_id,
    )
    transact(entry, lambda tx: one_time_tokens.save_ops(tx, token_item))
    emit("security.token_lifecycle", action="password_reset_issued", target_id=user_id)
    user = users.get_user(organization_id, user_id)
    return _mail(one_time_tokens.RESET, user, _organization_name(organization_id), token)


def invite(user: users.User) -> bool:
    """Mail a new user (created without a password) their setup link. Returns whether the mail
    was handed to SES; if not, an admin can send a reset link later."""
    item = _user_item(user.organization_id, user.id)
    token = one_time_tokens.issue(
        user.organization_id, user.id, one_time_tokens.SETUP, _version(item)
    )
    emit("security.token_lifecycle", action="invitation_issued", target_id=user.id)
    return _mail(one_time_tokens.SETUP, user, _organization_name(user.organization_id), token)
