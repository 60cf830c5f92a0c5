"""The client's parts that need no server: SSE parsing, Retry-After, standing alone."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
from hypothesis import given
from hypothesis import strategies as st

from midcore.client._base import SSEDecoder, SSELines, backoff_seconds, retry_after_seconds
from midcore.client.models import AgentOutputEvent, Event, parse_event

_text = st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",)))


@given(st.lists(st.tuples(st.integers(1, 10**9), st.sampled_from(["run.state", "x.y"]), _text)))
def test_sse_frames_round_trip(frames: list[tuple[int, str, str]]) -> None:
    lines: list[str] = [": keepalive", ""]
    for seq, kind, text in frames:
        lines += [f"id: {seq}", f"event: {kind}", f"data: {json.dumps({'text': text})}", ""]
        lines += [": keepalive", ""]
    messages = list(SSEDecoder().messages(lines))
    assert [(m.id, m.event, json.loads(m.data)["text"]) for m in messages] == [
        (str(seq), kind, text) for seq, kind, text in frames
    ]


def test_sse_data_over_several_lines_and_no_space_after_colon() -> None:
    messages = list(SSEDecoder().messages(["id:7", "data:{", 'data: "a": 1}', "", ""]))
    assert len(messages) == 1
    assert messages[0].id == "7" and json.loads(messages[0].data) == {"a": 1}


def test_retry_after_as_seconds_or_date() -> None:
    assert retry_after_seconds(httpx.Headers({"Retry-After": "3"})) == 3.0
    assert retry_after_seconds(httpx.Headers({"Retry-After": "soon"})) is None
    assert retry_after_seconds(httpx.Headers({})) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    seconds = retry_after_seconds(httpx.Headers({"Retry-After": later}))
    assert seconds is not None and 60 < seconds <= 120
    assert backoff_seconds(0, retry_after=3600) == 60.0  # a server's wish, within reason


@given(st.integers(0, 30))
def test_backoff_grows_and_stays_bounded(attempt: int) -> None:
    delay = backoff_seconds(attempt)
    assert 0 < delay <= 8.0
    assert delay >= min(8.0, 0.25 * 2**attempt) / 2


def test_events_are_typed_and_unknown_types_still_parse() -> None:
    base = {"run_id": "r", "seq": 1, "ts": "2026-12-03T15:04:05.123Z"}
    output = parse_event(
        {**base, "type": "agent.output", "data": {"stream": "stdout", "text": "hi"}}
    )
    assert isinstance(output, AgentOutputEvent) and output.data.text == "hi"
    newer = parse_event({**base, "type": "agent.thought", "data": {"x": 1}})
    assert type(newer) is Event and newer.data == {"x": 1}


def test_the_client_imports_nothing_else_from_midcore() -> None:
    code = (
        "import sys, midcore.client; "
        "print('\\n'.join(m for m in sys.modules if m.startswith('midcore')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "midcore.client" in loaded
    assert [m for m in loaded if m != "midcore" and not m.startswith("midcore.client")] == []


@given(st.lists(_text.filter(lambda t: "\r" not in t and "\n" not in t), max_size=8),
       st.sampled_from(["\n", "\r", "\r\n"]), st.integers(1, 7))  # fmt: skip
def test_lines_split_only_at_sse_line_ends(lines: list[str], end: str, size: int) -> None:
    text = "".join(line + end for line in lines) + "\u2028tail"
    splitter = SSELines()
    got: list[str] = []
    for start in range(0, len(text), size):
        got += splitter.feed(text[start : start + size])
    assert got == lines
