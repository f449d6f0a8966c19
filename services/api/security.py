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


# Clock skew tolerated between replicas (and between the issuer and a verifier).
LEEWAY_SECONDS = 60
_TIME_CLAIMS = ("exp", "iat", "nbf")


def _numeric(value: Any) -> bool:
    # RFC 7519 NumericDate: a JSON number. Strings ("1700000000") and booleans are refused.
    return isinstance(value, int | float) and not isinstance(value, bool)


def decode_access_token(token: str, *, settings: Settings, now: datetime) -> dict[str, Any]:
    """Verify one pinned algorithm, issuer, audience, type and every time claim against `now`.

    Required: `sub`, `aud`, `iss`, `typ`, numeric `exp`/`iat`/`nbf`, integer `gen` (the user's
    token generation, compared with the stored one by the caller: see api.deps).
    """
    return check_token_times(verify_access_token(token, settings=settings), now=now)


def verify_access_token(token: str, *, settings: Settings) -> dict[str, Any]:
    """Everything `decode_access_token` checks but the times: signature, algorithm, claims' shapes."""
    algorithm = _algorithm(settings)
    invalid = Unauthorized("令牌无效", code="auth.invalid_token")
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
            # python-jose accepts a token without `aud` even when an audience is given, and
            # checks times against the wall clock: presence and times are checked below,
            # against the injectable clock.
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except Unauthorized:
        raise
    except (JWTError, ValueError, TypeError, KeyError) as exc:
        raise invalid from exc
    if not isinstance(claims, dict) or "aud" not in claims or claims.get("typ") != "access":
        raise invalid
    if not all(_numeric(claims.get(name)) for name in _TIME_CLAIMS):
        raise invalid
    gen = claims.get("gen")
    if not isinstance(gen, int) or isinstance(gen, bool):
        raise invalid
    return claims


def check_token_times(claims: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """The time claims of verified `claims` against `now` (expired, or not yet valid: 401)."""
    ts = now.timestamp()
    if claims["exp"] <= ts:
        raise Unauthorized("令牌已过期，请重新登录", code="auth.token_expired")
    if claims["iat"] > ts + LEEWAY_SECONDS or claims["nbf"] > ts + LEEWAY_SECONDS:
        raise Unauthorized("令牌尚未生效", code="auth.invalid_token")
    return claims
