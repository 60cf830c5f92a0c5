"""API keys, members and who-am-I through the client, against a real server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from midcore.client import AuthenticationError, ConflictError, Midcore, NotFoundError
from tests.client.fixtures import Served


def test_me(served: Served) -> None:
    with served.client() as client:
        me = client.me()
    assert me.role == "owner" and me.tenant.slug == "default"
    assert "runs:write" in me.permissions or me.permissions


def test_api_keys_create_list_revoke(served: Served) -> None:
    expires = datetime.now(UTC) + timedelta(days=1)
    with served.client() as client:
        created = client.api_keys.create("ci", "operator", expires_at=expires)
        assert created.key.startswith("mc_") and created.role == "operator"
        assert created.expires_at is not None
        for i in range(3):
            client.api_keys.create(f"page-{i}", "viewer")
        listed = list(client.api_keys.list(page_size=2))
        assert created.id in [k.id for k in listed]
        assert len(listed) == len({k.id for k in listed}) >= 5
        with Midcore(served.url, created.key) as ci:
            assert ci.me().role == "operator"
        revoked = client.api_keys.revoke(created.id)
        assert revoked.revoked_at is not None
        with Midcore(served.url, created.key) as ci, pytest.raises(AuthenticationError):
            ci.me()
        with pytest.raises(NotFoundError):
            client.api_keys.revoke("01nosuchkey")


def test_members_add_list_update_remove(served: Served) -> None:
    with served.client() as client:
        member = client.members.add("ada@example.com", "viewer", name="Ada")
        assert (member.email, member.role, member.name) == ("ada@example.com", "viewer", "Ada")
        with pytest.raises(ConflictError):
            client.members.add("ada@example.com", "viewer")
        client.members.add("bob@example.com", "operator")
        emails = [m.email for m in client.members.list(page_size=1)]
        assert {"ada@example.com", "bob@example.com"} <= set(emails)
        updated = client.members.update(member.user_id, role="developer")
        assert updated.role == "developer"
        client.members.remove(member.user_id)
        assert "ada@example.com" not in [m.email for m in client.members.list()]
        with pytest.raises(NotFoundError):
            client.members.remove(member.user_id)
