"""`Midcore`: the blocking client."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

import httpx
from pydantic import BaseModel

from midcore.client import _base as base
from midcore.client._base import API, AUTONOMY, Call, Retry
from midcore.client.errors import ConflictError, MidcoreError
from midcore.client.models import (
    Agent,
    AnyEvent,
    ApiKey,
    ApiKeyCreated,
    Evidence,
    EvidenceSnapshot,
    EvidenceWithProof,
    GateRunResult,
    Me,
    Member,
    Page,
    Readiness,
    ReliabilityContext,
    Run,
    RunAccepted,
    SignedCheckpoint,
    Transcription,
    Workspace,
    parse_event,
)

M = TypeVar("M", bound=BaseModel)


class Midcore:
    """A client of a Midcore server.

    `base_url` and `api_key` default to `MIDCORE_URL` and `MIDCORE_API_KEY`. Failed calls are sent
    again up to `max_retries` times when that is safe (see `Retry`).
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = base.DEFAULT_TIMEOUT,
        max_retries: int = base.DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.base_url, self.api_key = base.resolve_settings(base_url, api_key)
        self.max_retries = max_retries
        self._http = http_client or httpx.Client(timeout=timeout)
        self._headers = base.default_headers(self.api_key)
        self.runs = Runs(self)
        self.gates = Gates(self)
        self.evidence = EvidenceResource(self)
        self.voice = Voice(self)
        self.api_keys = ApiKeys(self)
        self.members = Members(self)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Midcore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def me(self) -> Me:
        return self._model(Me, Call("GET", f"{API}/auth/me", Retry.IDEMPOTENT))

    def reliability_context(self, **params: Any) -> ReliabilityContext:
        call = Call(
            "GET", f"{AUTONOMY}/reliability-context", Retry.IDEMPOTENT, base.clean_params(params)
        )
        return self._model(ReliabilityContext, call)

    # Plumbing

    def _send(self, call: Call, *, stream: bool = False) -> httpx.Response:
        """Send with retries; return a success response or raise the typed error."""
        attempt = 0
        while True:
            request = self._http.build_request(
                call.method,
                self.base_url + call.path,
                params=call.params,
                json=call.json,
                files=call.files,
                data=call.data,
                headers={**self._headers, **call.headers},
            )
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                if attempt < self.max_retries and base.should_retry_transport(exc, call.retry):
                    time.sleep(base.backoff_seconds(attempt))
                    attempt += 1
                    continue
                raise base.transport_error(exc) from exc
            if response.is_success:
                return response
            try:
                response.read()
            except httpx.TransportError as exc:
                raise base.transport_error(exc) from exc
            finally:
                response.close()
            error = base.error_from_response(response)
            if attempt < self.max_retries and base.should_retry_status(
                response.status_code, call.retry
            ):
                time.sleep(
                    base.backoff_seconds(attempt, base.retry_after_seconds(response.headers))
                )
                attempt += 1
                continue
            raise error

    def _json(self, call: Call) -> Any:
        response = self._send(call)
        return response.json() if response.content else None

    def _model(self, model: type[M], call: Call) -> M:
        return model.model_validate(self._json(call))

    def _pages(self, model: type[M], call: Call) -> Iterator[M]:
        """Every item of a cursor-paginated list, fetching pages as they are needed."""
        params = dict(call.params or {})
        while True:
            page = Page[model].model_validate(  # type: ignore[valid-type]
                self._json(Call(call.method, call.path, call.retry, params))
            )
            yield from page.items
            if not page.next_cursor:
                return
            params["cursor"] = page.next_cursor


class _Resource:
    def __init__(self, client: Midcore) -> None:
        self._client = client


class Runs(_Resource):
    def create(
        self,
        task: str,
        workspace: str | os.PathLike[str] | dict[str, Any] | Workspace,
        agent: list[str] | dict[str, Any] | Agent,
        *,
        gates: list[str] | None = None,
        budget_seconds: int = 600,
        metadata: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> RunAccepted:
        """Start an automation run.

        It always carries an Idempotency-Key (one is made when not given), so a retry after a lost
        answer returns the same run instead of starting a second one.
        """
        body = {
            "task": task,
            "workspace": base.as_workspace(workspace),
            "agent": base.as_agent(agent),
            "gates": gates,
            "budget_seconds": budget_seconds,
            "metadata": metadata or {},
        }
        key = idempotency_key or base.new_idempotency_key()
        call = Call(
            "POST", f"{AUTONOMY}/run", Retry.IDEMPOTENT, json=body,
            headers={"Idempotency-Key": key},
        )  # fmt: skip
        return self._client._model(RunAccepted, call)

    def vibe(
        self,
        prompt: str,
        *,
        session_id: str | None = None,
        workspace: str | os.PathLike[str] | dict[str, Any] | Workspace | None = None,
        budget_seconds: int = 600,
        idempotency_key: str | None = None,
    ) -> RunAccepted:
        """Start or continue a vibe session; retried after a lost answer only with a key."""
        body: dict[str, Any] = {"prompt": prompt, "budget_seconds": budget_seconds}
        if session_id is not None:
            body["session_id"] = session_id
        if workspace is not None:
            body["workspace"] = base.as_workspace(workspace)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        retry = Retry.IDEMPOTENT if idempotency_key else Retry.UNSENT_ONLY
        call = Call("POST", f"{AUTONOMY}/vibe/run", retry, json=body, headers=headers)
        return self._client._model(RunAccepted, call)

    def get(self, run_id: str) -> Run:
        return self._client._model(Run, Call("GET", f"{AUTONOMY}/runs/{run_id}", Retry.IDEMPOTENT))

    def list(
        self,
        *,
        status: list[str] | str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        page_size: int | None = None,
    ) -> Iterator[Run]:
        """Every matching run, newest first; pages are fetched as the iteration needs them."""
        params = base.clean_params(
            {
                "status": [status] if isinstance(status, str) else status,
                "created_after": created_after.isoformat() if created_after else None,
                "created_before": created_before.isoformat() if created_before else None,
                "limit": page_size,
            }
        )
        return self._client._pages(Run, Call("GET", f"{AUTONOMY}/runs", Retry.IDEMPOTENT, params))

    def cancel(self, run_id: str) -> Run:
        # A repeated cancel never does more than the first one, so it is retried like a read.
        call = Call("POST", f"{AUTONOMY}/runs/{run_id}/cancel", Retry.IDEMPOTENT)
        attempt = 0
        while True:
            try:
                return self._client._model(Run, call)
            except ConflictError as exc:
                # The run changed state while the server was cancelling it: ask again.
                if exc.code != "stale_run_state" or attempt >= base.DEFAULT_STREAM_RECONNECTS:
                    raise
            time.sleep(base.backoff_seconds(attempt))
            attempt += 1

    def events(
        self, run_id: str, *, after: int = 0, page_size: int | None = None
    ) -> Iterator[AnyEvent]:
        """The run's events so far, after seq `after` (a catch-up, not a live stream)."""
        path = f"{AUTONOMY}/runs/{run_id}/events"
        while True:
            params = base.clean_params({"after": after, "limit": page_size})
            page = self._client._json(Call("GET", path, Retry.IDEMPOTENT, params))
            for item in page["items"]:
                yield parse_event(item)
            if not page.get("next_cursor"):
                return
            after = int(page["next_cursor"])

    def stream(
        self,
        session_id: str,
        *,
        after: int = 0,
        max_reconnects: int = base.DEFAULT_STREAM_RECONNECTS,
        on_reconnect: Callable[[int, Exception], None] | None = None,
    ) -> Iterator[AnyEvent]:
        """The session's events live, from after seq `after`, until the server ends the stream.

        A dropped connection is reopened with `Last-Event-ID`, so every event arrives once and in
        order; it gives up after `max_reconnects` failed attempts in a row. `on_reconnect` is
        told the last seq received and the failure before each new attempt.
        """
        last_seq = after
        failures = 0
        path = f"{AUTONOMY}/streaming/{session_id}/events"
        while True:
            last_type: str | None = None
            call = Call("GET", path, Retry.IDEMPOTENT, headers=base.stream_headers(last_seq))
            try:
                response = self._client._send(call, stream=True)
                try:
                    decoder = base.SSEDecoder()
                    for message in decoder.messages_from_text(response.iter_text()):
                        payload = base.event_payload(message)
                        if payload is None:
                            continue
                        event = parse_event(payload)
                        if event.seq <= last_seq:
                            continue  # already delivered before a reconnect
                        last_seq, last_type = event.seq, event.type
                        failures = 0
                        yield event
                finally:
                    response.close()
                # The server ends the stream after the run's last event. An end with events but
                # without that one was an intermediary closing early: ask again from where we are.
                if last_type is None or last_type == "run.finished":
                    return
            except (httpx.TransportError, MidcoreError) as exc:
                if not base.is_dropped(exc) or failures >= max_reconnects:
                    if isinstance(exc, httpx.TransportError):
                        raise base.transport_error(exc) from exc
                    raise
                if on_reconnect is not None:
                    on_reconnect(last_seq, exc)
                time.sleep(base.backoff_seconds(failures))
                failures += 1


class Gates(_Resource):
    def run(
        self,
        workspace: str | os.PathLike[str] | dict[str, Any] | Workspace,
        *,
        gates: list[str] | None = None,
        changed_since: str | None = None,
    ) -> GateRunResult:
        """Run the gates of a workspace on the server; `passed` says whether the set passed."""
        body = base.clean_params(
            {
                "workspace": base.as_workspace(workspace),
                "gates": gates,
                "changed_since": changed_since,
            }
        )
        call = Call("POST", f"{AUTONOMY}/gates/run", Retry.UNSENT_ONLY, json=body)
        return self._client._model(GateRunResult, call)

    def readiness(self, **params: Any) -> Readiness:
        call = Call("GET", f"{AUTONOMY}/smart-gates", Retry.IDEMPOTENT, base.clean_params(params))
        return self._client._model(Readiness, call)


def _evidence_filters(**filters: Any) -> dict[str, Any]:
    return base.clean_params(
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in filters.items()}
    )


class EvidenceResource(_Resource):
    def list(
        self,
        *,
        kind: str | None = None,
        run_id: str | None = None,
        gate: str | None = None,
        workspace: str | None = None,
        subject_digest: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> Iterator[Evidence]:
        params = _evidence_filters(
            kind=kind, run_id=run_id, gate=gate, workspace=workspace,
            subject_digest=subject_digest, since=since, until=until, limit=page_size,
        )  # fmt: skip
        call = Call("GET", f"{AUTONOMY}/evidence", Retry.IDEMPOTENT, params)
        return self._client._pages(Evidence, call)

    def get(self, entry_id: str) -> EvidenceWithProof:
        call = Call("GET", f"{AUTONOMY}/evidence/{entry_id}", Retry.IDEMPOTENT)
        return self._client._model(EvidenceWithProof, call)

    def checkpoint(self, *, consistency_from: int | None = None) -> SignedCheckpoint:
        params = base.clean_params({"consistency_from": consistency_from})
        call = Call("GET", f"{AUTONOMY}/evidence/checkpoint", Retry.IDEMPOTENT, params)
        return self._client._model(SignedCheckpoint, call)

    def snapshot(self) -> EvidenceSnapshot:
        call = Call("GET", f"{AUTONOMY}/evidence-pack", Retry.IDEMPOTENT, {"format": "json"})
        return self._client._model(EvidenceSnapshot, call)

    def export_pack(
        self,
        path: str | os.PathLike[str],
        *,
        kind: str | None = None,
        run_id: str | None = None,
        gate: str | None = None,
        workspace: str | None = None,
        subject_digest: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Path:
        """Download the evidence pack (zip) to `path`; a failed download leaves no partial file."""
        params = _evidence_filters(
            format="zip", kind=kind, run_id=run_id, gate=gate, workspace=workspace,
            subject_digest=subject_digest, since=since, until=until,
        )  # fmt: skip
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        call = Call("GET", f"{AUTONOMY}/evidence-pack", Retry.IDEMPOTENT, params)
        response = self._client._send(call, stream=True)
        try:
            with partial.open("wb") as file:
                for chunk in response.iter_bytes():
                    file.write(chunk)
        except httpx.TransportError as exc:
            partial.unlink(missing_ok=True)
            raise base.transport_error(exc) from exc
        finally:
            response.close()
        partial.replace(target)
        return target


class Voice(_Resource):
    def transcribe(
        self,
        audio: str | os.PathLike[str] | bytes | IO[bytes],
        *,
        filename: str | None = None,
        content_type: str = "application/octet-stream",
        language: str | None = None,
        backend: str | None = None,
    ) -> Transcription:
        """Transcribe a recording (a path, bytes or a binary file); any intent is a proposal."""
        if isinstance(audio, bytes):
            data, name = audio, filename or "audio"
        elif isinstance(audio, str | os.PathLike):
            data, name = Path(audio).read_bytes(), filename or Path(audio).name
        else:
            data, name = audio.read(), filename or "audio"
        fields = base.clean_params({"language": language, "backend": backend})
        call = Call(
            "POST", f"{AUTONOMY}/voice/transcribe", Retry.UNSENT_ONLY,
            files={"file": (name, data, content_type)}, data=fields or None,
        )  # fmt: skip
        return self._client._model(Transcription, call)


class ApiKeys(_Resource):
    def create(self, name: str, role: str, *, expires_at: datetime | None = None) -> ApiKeyCreated:
        """Create a key; its plaintext (`.key`) is in this answer only."""
        body = base.clean_params(
            {
                "name": name,
                "role": role,
                "expires_at": expires_at.isoformat() if expires_at else None,
            }
        )
        call = Call("POST", f"{API}/api-keys", Retry.UNSENT_ONLY, json=body)
        return self._client._model(ApiKeyCreated, call)

    def list(self, *, page_size: int | None = None) -> Iterator[ApiKey]:
        params = base.clean_params({"limit": page_size})
        return self._client._pages(ApiKey, Call("GET", f"{API}/api-keys", Retry.IDEMPOTENT, params))

    def revoke(self, key_id: str) -> ApiKey:
        call = Call("DELETE", f"{API}/api-keys/{key_id}", Retry.IDEMPOTENT)
        return self._client._model(ApiKey, call)


class Members(_Resource):
    def list(self, *, page_size: int | None = None) -> Iterator[Member]:
        params = base.clean_params({"limit": page_size})
        return self._client._pages(Member, Call("GET", f"{API}/members", Retry.IDEMPOTENT, params))

    def add(self, email: str, role: str, *, name: str | None = None) -> Member:
        body = base.clean_params({"email": email, "role": role, "name": name})
        return self._client._model(
            Member, Call("POST", f"{API}/members", Retry.UNSENT_ONLY, json=body)
        )

    def update(self, user_id: str, *, role: str) -> Member:
        call = Call("PATCH", f"{API}/members/{user_id}", Retry.IDEMPOTENT, json={"role": role})
        return self._client._model(Member, call)

    def remove(self, user_id: str) -> None:
        self._client._send(Call("DELETE", f"{API}/members/{user_id}", Retry.UNSENT_ONLY))
