"""Single sign-on with OpenID Connect: authorization code flow with PKCE, state and nonce.

authlib builds the authorization request and the PKCE challenge; joserfc (authlib's JOSE
library) checks the ID token's signature against the issuer's JWKS and its claims (`iss`, `aud`,
`exp`, `iat`, `nonce`). The pending sign-in lives in the database (any API process may receive
the callback) and is bound to the browser by a cookie holding its state.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import KeySet
from sqlalchemy.ext.asyncio import AsyncSession

from midcore.auth.models import SsoLoginState
from midcore.auth.roles import Role
from midcore.config import Settings
from midcore.db import Database, utcnow
from midcore.errors import AuthenticationRequired, NotFound, PermissionDenied, ServiceUnavailable
from midcore.tenants.models import Membership, Tenant, TenantSso, User
from midcore.tenants.repository import MemberRepository, TenantRepository

STATE_COOKIE = "midcore_sso_state"
CALLBACK_PATH = "/api/v1/auth/sso/callback"
STATE_LIFETIME = timedelta(minutes=10)
# Clocks drift between the provider and us; a minute is the usual allowance.
CLOCK_LEEWAY_SECONDS = 60
# The issuer's metadata and keys change rarely; an unknown key id refetches the keys at once.
CACHE_SECONDS = 3600
SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
SCOPE = "openid email profile"


class SsoNotAvailable(NotFound):
    code = "sso_not_available"
    title = "SSO not available"


class SsoFailed(AuthenticationRequired):
    code = "sso_failed"
    title = "SSO sign-in failed"


class SsoDomainNotAllowed(PermissionDenied):
    code = "sso_domain_not_allowed"
    title = "Email domain not allowed"


class SsoNotAMember(PermissionDenied):
    code = "sso_not_a_member"
    title = "Not a member of this tenant"


class ProviderUnavailable(ServiceUnavailable):
    code = "identity_provider_unavailable"
    title = "Identity provider unavailable"


@dataclass(frozen=True)
class Provider:
    """A tenant's effective configuration: its own values, else the server's settings."""

    tenant_id: str
    issuer: str
    client_id: str
    client_secret: str | None
    allowed_domains: tuple[str, ...]
    default_role: Role
    is_jit_enabled: bool


@dataclass(frozen=True)
class PendingLogin:
    state: str
    tenant_id: str
    nonce: str
    code_verifier: str
    redirect_uri: str


@dataclass(frozen=True)
class SignedIn:
    user: User
    membership: Membership
    provider: Provider
    subject: str


class _Cache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: str, value: Any) -> None:
        self._entries[key] = (time.monotonic() + CACHE_SECONDS, value)

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)


_cache = _Cache()


async def _get_json(url: str) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(url)
            response.raise_for_status()
            body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ProviderUnavailable(f"could not read {url}: {exc}") from None
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"{url} did not answer a JSON object")
    return body


async def _metadata(issuer: str) -> dict[str, Any]:
    key = f"metadata:{issuer}"
    cached: dict[str, Any] | None = _cache.get(key)
    if cached is not None:
        return cached
    metadata = await _get_json(f"{issuer}/.well-known/openid-configuration")
    # OpenID Connect Discovery: the document must name the issuer it was fetched for.
    if metadata.get("issuer") != issuer:
        raise ProviderUnavailable(f"the discovery document of {issuer} names another issuer")
    for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(metadata.get(field), str):
            raise ProviderUnavailable(f"the discovery document of {issuer} has no {field}")
    _cache.put(key, metadata)
    return metadata


async def _keys(issuer: str, jwks_uri: str, *, refresh: bool = False) -> KeySet:
    key = f"jwks:{issuer}"
    cached: KeySet | None = None if refresh else _cache.get(key)
    if cached is not None:
        return cached
    keys = KeySet.import_key_set(await _get_json(jwks_uri))  # type: ignore[arg-type]
    _cache.put(key, keys)
    return keys


async def provider_for(session: AsyncSession, tenant: Tenant, settings: Settings) -> Provider:
    config = await session.get(TenantSso, tenant.id)
    issuer = (config.issuer if config else None) or settings.oidc_issuer
    client_id = (config.client_id if config else None) or settings.oidc_client_id
    if config is None or not issuer or not client_id:
        raise SsoNotAvailable(f"no SSO sign-in for the tenant {tenant.slug!r}")
    secret = config.client_secret if config.client_id else settings.oidc_client_secret
    return Provider(
        tenant_id=tenant.id,
        issuer=issuer.rstrip("/"),
        client_id=client_id,
        client_secret=secret or None,
        allowed_domains=tuple(config.allowed_domains),
        default_role=Role(config.default_role),
        is_jit_enabled=config.is_jit_enabled,
    )


async def begin(
    session: AsyncSession, tenant_slug: str, redirect_uri: str, settings: Settings
) -> tuple[str, str]:
    """Start a sign-in: returns the provider's authorization URL and the state (for the cookie)."""
    tenant = await TenantRepository(session).get_by_slug(tenant_slug)
    if tenant is None:
        raise SsoNotAvailable(f"no SSO sign-in for the tenant {tenant_slug!r}")
    provider = await provider_for(session, tenant, settings)
    metadata = await _metadata(provider.issuer)
    state, nonce, verifier = generate_token(43), generate_token(43), generate_token(64)
    now = utcnow()
    session.add(
        SsoLoginState(
            state=state,
            tenant_id=tenant.id,
            nonce=nonce,
            code_verifier=verifier,
            redirect_uri=redirect_uri,
            created_at=now,
            expires_at=now + STATE_LIFETIME,
        )
    )
    url = prepare_grant_uri(
        metadata["authorization_endpoint"],
        client_id=provider.client_id,
        response_type="code",
        redirect_uri=redirect_uri,
        scope=SCOPE,
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    return url, state


async def take_pending(
    database: Database, state: str | None, cookie_state: str | None
) -> PendingLogin:
    """Consume the pending sign-in named by `state` (once only), in its own transaction."""
    if not state:
        raise SsoFailed("the provider's answer has no state")
    if not cookie_state or not hmac.compare_digest(state.encode(), cookie_state.encode()):
        raise SsoFailed("this sign-in was not started in this browser")
    async with database.session() as session:
        row = await session.get(SsoLoginState, state)
        if row is None:
            raise SsoFailed("this sign-in is unknown or was already used; start again")
        await session.delete(row)
        pending = PendingLogin(
            row.state, row.tenant_id, row.nonce, row.code_verifier, row.redirect_uri
        )
        expires_at = row.expires_at
    # Checked after the commit: an expired sign-in is used up too.
    if expires_at <= utcnow():
        raise SsoFailed("this sign-in took too long; start again")
    return pending


async def _exchange_code(
    provider: Provider, metadata: dict[str, Any], pending: PendingLogin, code: str
) -> str:
    """The ID token for `code`, from the provider's token endpoint."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": pending.redirect_uri,
        "code_verifier": pending.code_verifier,
        "client_id": provider.client_id,
    }
    # A confidential client authenticates with HTTP Basic; a public one relies on PKCE alone.
    auth = (
        httpx.BasicAuth(provider.client_id, provider.client_secret)
        if provider.client_secret
        else None
    )
    try:
        async with httpx.AsyncClient(timeout=10, auth=auth) as client:
            response = await client.post(metadata["token_endpoint"], data=form)
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"the token endpoint could not be reached: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200:
        error = body.get("error", response.status_code) if isinstance(body, dict) else ""
        raise SsoFailed(f"the provider refused the authorization code ({error})")
    id_token = body.get("id_token") if isinstance(body, dict) else None
    if not isinstance(id_token, str):
        raise SsoFailed("the provider's answer has no ID token")
    return id_token


async def verify_id_token(
    id_token: str, *, issuer: str, client_id: str, nonce: str
) -> dict[str, Any]:
    """The ID token's claims once its signature, issuer, audience, times and nonce hold."""
    metadata = await _metadata(issuer)
    keys = await _keys(issuer, metadata["jwks_uri"])
    try:
        try:
            token = jwt.decode(id_token, keys, algorithms=SIGNING_ALGORITHMS)
        except ValueError:
            # An unknown key id: the provider may have rotated its keys since we cached them.
            keys = await _keys(issuer, metadata["jwks_uri"], refresh=True)
            token = jwt.decode(id_token, keys, algorithms=SIGNING_ALGORITHMS)
        claims: dict[str, Any] = dict(token.claims)
        jwt.JWTClaimsRegistry(
            leeway=CLOCK_LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(claims)
    except ExpiredTokenError:
        raise SsoFailed("the ID token has expired") from None
    except (InvalidClaimError, MissingClaimError) as exc:
        raise SsoFailed(f"the ID token's claims do not hold: {exc.description}") from None
    except (JoseError, ValueError) as exc:
        raise SsoFailed(f"the ID token is not valid: {exc}") from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise SsoFailed("the ID token's claims do not hold: azp is not this client")
    return claims


def _email_of(claims: dict[str, Any]) -> str:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise SsoFailed("the ID token carries no email address")
    if claims.get("email_verified") is False:
        raise SsoFailed("the provider has not verified this email address")
    return email.strip().lower()


async def complete(
    session: AsyncSession, pending: PendingLogin, code: str, settings: Settings
) -> SignedIn:
    """Check the provider's answer and find (or, with JIT on, make) the member it names.

    Nothing is written to `session` before every check has passed.
    """
    tenant = await session.get(Tenant, pending.tenant_id)
    if tenant is None:
        raise SsoFailed("the tenant of this sign-in no longer exists")
    provider = await provider_for(session, tenant, settings)
    metadata = await _metadata(provider.issuer)
    id_token = await _exchange_code(provider, metadata, pending, code)
    claims = await verify_id_token(
        id_token, issuer=provider.issuer, client_id=provider.client_id, nonce=pending.nonce
    )
    email = _email_of(claims)
    domain = email.rsplit("@", 1)[1]
    if domain not in provider.allowed_domains:
        raise SsoDomainNotAllowed(f"{domain} addresses cannot sign in to this tenant")
    members = MemberRepository(session)
    user = await members.get_user_by_email(email)
    membership = await members.membership(user.id, tenant.id) if user else None
    if membership is None:
        if not provider.is_jit_enabled:
            raise SsoNotAMember(f"{email} is not a member of this tenant; ask an admin to add you")
        if user is None:
            name = claims.get("name")
            user = User(email=email, name=name if isinstance(name, str) else None)
            session.add(user)
            await session.flush()
        membership = Membership(
            tenant_id=tenant.id, user_id=user.id, role=provider.default_role.value
        )
        session.add(membership)
        await session.flush()
    assert user is not None
    return SignedIn(user=user, membership=membership, provider=provider, subject=claims["sub"])
