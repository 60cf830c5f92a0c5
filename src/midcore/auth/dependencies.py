"""Authentication and the permission check every endpoint goes through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from midcore.audit.service import record_denial
from midcore.auth.principal import Principal
from midcore.auth.roles import Permission
from midcore.auth.service import KeyRejected, authenticate_key
from midcore.deps import DatabaseDep, DbSession
from midcore.errors import AuthenticationRequired, PermissionDenied


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _presented_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


async def authenticate(request: Request, session: DbSession, database: DatabaseDep) -> Principal:
    plaintext = _presented_key(request)
    if plaintext is None:
        await record_denial(
            database,
            None,
            f"{request.method} {request.url.path}",
            outcome="unauthenticated",
            details={"reason": "no credentials"},
            client_ip=_client_ip(request),
        )
        raise AuthenticationRequired(
            "send an API key as 'Authorization: Bearer mc_...' or 'X-API-Key'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return await authenticate_key(session, plaintext)
    except KeyRejected as exc:
        await record_denial(
            database,
            None,
            f"{request.method} {request.url.path}",
            outcome="unauthenticated",
            details={"reason": exc.detail},
            tenant_id=exc.tenant_id,
            actor=f"api_key:{exc.key_id}" if exc.key_id else "anonymous",
            client_ip=_client_ip(request),
        )
        exc.headers = {"WWW-Authenticate": "Bearer"}
        raise


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets the request through only with `permission`; denials are audited."""

    async def _check(
        request: Request, principal: CurrentPrincipal, database: DatabaseDep
    ) -> Principal:
        if not principal.can(permission):
            await record_denial(
                database,
                principal,
                f"{request.method} {request.url.path}",
                outcome="denied",
                details={"required_permission": permission.value, "role": principal.role.value},
                client_ip=_client_ip(request),
            )
            raise PermissionDenied(f"the role {principal.role} does not have {permission}")
        return principal

    return _check


SelfRead = Annotated[Principal, Depends(require(Permission.SELF_READ))]
ApiKeysManage = Annotated[Principal, Depends(require(Permission.API_KEYS_MANAGE))]
MembersManage = Annotated[Principal, Depends(require(Permission.MEMBERS_MANAGE))]
AuditRead = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]
