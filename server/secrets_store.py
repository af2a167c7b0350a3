"""Player secrets: hashed with Argon2id (`argon2-cffi`), checked off the event loop.

A hash costs tens of milliseconds of CPU by design; it runs in a worker thread so the town keeps
ticking while a login is checked."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_SECRET = 8  # characters

_HASHER = PasswordHasher()  # immutable parameters (Argon2id, RFC 9106 low-memory profile)


async def hash_secret(secret: str) -> str:
    """The Argon2id hash of a secret, as stored in `players.secret_hash`."""
    return await asyncio.to_thread(_HASHER.hash, secret)


async def secret_matches(stored_hash: str, secret: str) -> bool:
    """Whether `secret` is the one `stored_hash` was made from."""

    def check() -> bool:
        try:
            return bool(_HASHER.verify(stored_hash, secret))
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)
