"""The only module that touches JWTs and password hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from jose import JWTError, jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from duban.errors import Unauthorized
from duban.settings import Settings

_hasher = PasswordHash((Argon2Hasher(),))


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Verified against when the user does not exist, so a login takes as long either way.
    # Made on first use: hashing at import would add half a second to every cold start.
    return _hasher.hash("duban-dummy-password")


_ALLOWED_ALGORITHMS = {"HS256", "HS384", "HS512"}


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if not password_hash:
        _hasher.verify(password, _dummy_hash())
        return False
    try:
        return _hasher.verify(password, password_hash)
    except Exception:  # malformed stored hash: treat as a failed login, never a 500
        return False


def hash_token(token: str, settings: Settings) -> str:
    """Refresh tokens, API keys and board tokens are high-entropy: a keyed SHA-256 suffices."""
    return hmac.new(settings.secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def new_token(prefix: str, nbytes: int = 32) -> str:
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def _algorithm(settings: Settings) -> str:
    if settings.jwt_algorithm not in _ALLOWED_ALGORITHMS:
        raise RuntimeError(f"unsupported DUBAN_JWT_ALGORITHM {settings.jwt_algorithm!r}")
    return settings.jwt_algorithm


def create_access_token(
    *, subject: int, generation: int, roles: list[str], settings: Settings, now: datetime
) -> tuple[str, int]:
    expires = timedelta(minutes=settings.access_token_minutes)
    claims: dict[str, Any] = {
        "sub": str(subject),
        "gen": generation,
        "roles": roles,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + expires).timestamp()),
        "jti": secrets.token_hex(8),
        "typ": "access",
    }
    return jwt.encode(claims, settings.secret_key, algorithm=_algorithm(settings)), int(
        expires.total_seconds()
    )


def decode_access_token(token: str, *, settings: Settings, now: datetime) -> dict[str, Any]:
    """Verify signature (one pinned algorithm), issuer, audience and times against `now`."""
    algorithm = _algorithm(settings)
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != algorithm:
            raise Unauthorized("令牌签名算法不被接受", code="auth.invalid_token")
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            # Times are checked below against the injectable clock, not the wall clock.
            # (python-jose's require_* options would check exp against the wall clock too.)
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except Unauthorized:
        raise
    except (JWTError, ValueError, TypeError, KeyError) as exc:
        raise Unauthorized("令牌无效", code="auth.invalid_token") from exc
    ts = now.timestamp()
    try:
        exp, iat = float(claims["exp"]), float(claims["iat"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Unauthorized("令牌无效", code="auth.invalid_token") from exc
    if exp <= ts:
        raise Unauthorized("令牌已过期，请重新登录", code="auth.token_expired")
    # A little leeway for clock skew between replicas.
    if iat > ts + 60:
        raise Unauthorized("令牌签发时间无效", code="auth.invalid_token")
    if claims.get("typ") != "access":
        raise Unauthorized("令牌类型不正确", code="auth.invalid_token")
    return claims
