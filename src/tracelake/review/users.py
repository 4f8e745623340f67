"""Signers: the people who may log in to the dashboards and sign reviews, with a role and a password.

Users live in ``users.json`` in the lake folder (mode 0600), never in the lake database, so the
published snapshot that every reader and ``tracelake sql`` sees holds no password hashes. Passwords
are stored only as argon2id hashes (argon2-cffi). A signature needs both components, the user
name and the password, every time (21 CFR 11.200(a)(1)).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tracelake.errors import InputError, TracelakeError
from tracelake.lake.storage import LakePaths

__all__ = ["ROLES", "SIGNING_ROLES", "AuthError", "User", "add_user", "authenticate", "has_users",
           "list_users", "users_file"]

#: viewer: reads; reviewer: disposes of findings and signs; approver: the same (QA release);
#: auditor: reads, and checks the chain.
ROLES = ("viewer", "reviewer", "approver", "auditor")
SIGNING_ROLES = ("reviewer", "approver")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_HASHER = PasswordHasher()
MIN_PASSWORD = 8


class AuthError(TracelakeError):
    """A user name and password did not match, or the user may not do what was asked."""


@dataclass(frozen=True)
class User:
    """A signer: login name, printed name (shown with every signature), role."""

    name: str
    printed_name: str
    role: str
    added_at: str

    @property
    def can_sign(self) -> bool:
        """Reviewers and approvers may dispose of findings and sign releases."""
        return self.role in SIGNING_ROLES


def users_file(lake: LakePaths) -> Path:
    """Where a lake's users are kept."""
    return lake.root / "users.json"


def _load(lake: LakePaths) -> list[dict[str, str]]:
    path = users_file(lake)
    if not path.exists():
        return []
    try:
        return list(json.loads(path.read_text(encoding="utf-8"))["users"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: the user list cannot be read ({exc})") from None


def has_users(lake: LakePaths) -> bool:
    """True once any user has been added (the dashboards then ask for a login)."""
    return bool(_load(lake))


def list_users(lake: LakePaths) -> list[User]:
    """Every user, without password hashes."""
    return [User(u["name"], u["printed_name"], u["role"], u["added_at"]) for u in _load(lake)]


def add_user(lake: LakePaths, name: str, role: str, password: str,
             printed_name: str | None = None) -> User:
    """Add a user with an argon2 hash of the password.

    Raises:
        InputError: the name is taken or not a plain login name, the role unknown, or the
            password shorter than 8 characters.
    """
    if not _NAME.match(name):
        raise InputError(f"user name {name!r}: use letters, digits and . _ @ - (up to 64)")
    if role not in ROLES:
        raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise InputError(f"the password must have at least {MIN_PASSWORD} characters")
    users = _load(lake)
    if any(u["name"].lower() == name.lower() for u in users):
        raise InputError(f"user {name!r} exists already")
    printed = (printed_name or name).strip()
    if not printed or any(ord(c) < 32 for c in printed):
        raise InputError("the printed name must be plain text on one line")
    user = User(name, printed, role, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    users.append(asdict(user) | {"password_hash": _HASHER.hash(password)})
    lake.root.mkdir(parents=True, exist_ok=True)
    path = users_file(lake)
    tmp = path.with_name(f".users-{uuid.uuid4().hex}.json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"users": users}, fh, indent=2, ensure_ascii=False)
    os.replace(tmp, path)
    return user


def authenticate(lake: LakePaths, name: str, password: str) -> User:
    """The user, if the name and password match.

    Raises:
        AuthError: unknown user or wrong password (the message does not say which).
    """
    for u in _load(lake):
        if u["name"].lower() == name.strip().lower():
            try:
                _HASHER.verify(u["password_hash"], password)
            except (VerificationError, InvalidHashError):
                break
            return User(u["name"], u["printed_name"], u["role"], u["added_at"])
    raise AuthError("user name or password not recognised")
