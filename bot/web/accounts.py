"""Staff accounts: adding them, checking a password, and the login rate limit.

Passwords are hashed with argon2 (``web.password_hashing``: argon2-cffi's defaults, the OWASP
recommendation, unless configured); only the hash is stored. A failed login is audited with the
e-mail typed and the client address, and the rate limit counts those rows, so it holds across
restarts and across several console processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.models import StaffAccount, StaffAudit, StaffRole

if TYPE_CHECKING:
    from bot.config.web import PasswordHashing

# (time_cost, memory_kib, parallelism) -> the hasher and a hash of no one's password:
# verifying against that when the e-mail is unknown takes as long as a real check, so the
# answer's timing does not tell which addresses have accounts.
_HASHERS: dict[tuple[int, int, int], tuple[PasswordHasher, str]] = {}


def _hasher(hashing: PasswordHashing | None) -> tuple[PasswordHasher, str]:
    """The hasher of ``hashing`` (argon2-cffi's defaults for None) and its dummy hash, made
    on first use: a process that never checks a password no longer hashes one on import."""
    if hashing is None:
        defaults = PasswordHasher()
        key = (defaults.time_cost, defaults.memory_cost, defaults.parallelism)
    else:
        key = (hashing.time_cost, hashing.memory_kib, hashing.parallelism)
    got = _HASHERS.get(key)
    if got is None:
        hasher = PasswordHasher(time_cost=key[0], memory_cost=key[1], parallelism=key[2])
        got = _HASHERS[key] = (hasher, hasher.hash("not a password of anyone"))
    return got


LOGIN_OK = "login"
LOGIN_FAILED = "login_failed"
LOGIN_REFUSED = "login_refused"  # over the rate limit: not even checked


class AccountError(ValueError):
    """An account cannot be created or changed as asked (one line for the CLI)."""


def normalise_email(email: str) -> str:
    """E-mail addresses compare case-insensitively and without surrounding spaces."""
    return email.strip().lower()


async def add_account(
    session: AsyncSession,
    *,
    email: str,
    name: str,
    role: StaffRole,
    password: str,
    now: datetime,
    telegram_user_id: int | None = None,
    language: str | None = None,
    hashing: PasswordHashing | None = None,
) -> StaffAccount:
    """Create an account (or refuse a duplicate e-mail or a short password); the password is
    hashed with ``hashing`` (``settings.web.password_hashing``; argon2-cffi's defaults)."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError(f"not an e-mail address: {email!r}")
    if len(password) < 10:
        raise AccountError("the password must have at least 10 characters")
    exists = await session.scalar(select(StaffAccount.id).where(StaffAccount.email == email))
    if exists is not None:
        raise AccountError(f"{email} already has an account")
    account = StaffAccount(
        email=email,
        name=name.strip() or email,
        role=role,
        password_hash=_hasher(hashing)[0].hash(password),
        telegram_user_id=telegram_user_id,
        language=language,
        active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(account)
    await session.flush()
    await audit(session, account, "account_added", now, data={"role": str(role)})
    return account


@dataclass(frozen=True)
class LoginResult:
    """What a login attempt came to: an account, or why not (``refused`` = rate-limited)."""

    account: StaffAccount | None
    refused: bool = False


async def login(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    client: str | None,
    now: datetime,
    attempts: int,
    window: timedelta,
    hashing: PasswordHashing | None = None,
) -> LoginResult:
    """Check a password, within the rate limit, auditing the attempt either way; a hash made
    with other parameters than ``hashing`` is made again with them."""
    hasher, dummy_hash = _hasher(hashing)
    email = normalise_email(email)[:254]
    since = now - window
    conditions = [StaffAudit.email == email]
    if client:
        conditions.append(StaffAudit.client == client)
    failures = await session.scalar(
        select(func.count())
        .select_from(StaffAudit)
        .where(StaffAudit.action == LOGIN_FAILED, StaffAudit.created_at >= since, or_(*conditions))
    )
    if (failures or 0) >= attempts:
        session.add(_row(None, email, LOGIN_REFUSED, now, client=client))
        return LoginResult(None, refused=True)
    account = await session.scalar(select(StaffAccount).where(StaffAccount.email == email))
    if account is None or not account.active:
        _verify(hasher, dummy_hash, password)
        session.add(_row(None, email, LOGIN_FAILED, now, client=client))
        return LoginResult(None)
    if not _verify(hasher, account.password_hash, password):
        session.add(_row(account.id, email, LOGIN_FAILED, now, client=client))
        return LoginResult(None)
    if hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hasher.hash(password)
    session.add(_row(account.id, email, LOGIN_OK, now, client=client))
    return LoginResult(account)


def _verify(hasher: PasswordHasher, hashed: str, password: str) -> bool:
    try:
        return hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


async def audit(
    session: AsyncSession,
    account: StaffAccount | None,
    action: str,
    now: datetime,
    *,
    target: str | None = None,
    client: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Record what a staff member did in the console."""
    email = account.email if account is not None else ""
    session.add(
        _row(account.id if account else None, email, action, now, target, client, data or {})
    )


def _row(
    staff_id: int | None,
    email: str,
    action: str,
    now: datetime,
    target: str | None = None,
    client: str | None = None,
    data: dict[str, Any] | None = None,
) -> StaffAudit:
    return StaffAudit(
        staff_id=staff_id,
        email=email,
        action=action,
        target=target,
        client=(client or None) and client[:64],
        data=data or {},
        created_at=now,
    )
