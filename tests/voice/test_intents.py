"""From text to intent: every phrase of the vocabulary, any backend's punctuation and case."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from midcore.voice.intents import parse_intent
from midcore.voice.vocabulary import DEFAULT_GATES, Vocabulary, jsgf, spoken, workspace_names

VOCABULARY = Vocabulary.build(workspaces=["billing-api", "Website"], gates=["smoke"])


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("run the gates", {"action": "gates.run"}),
        ("Run the gates on the main branch.", {"action": "gates.run", "workspace": "main"}),
        ("run the gates on billing api", {"action": "gates.run", "workspace": "billing-api"}),
        ("Run the gates on Billing-API!", {"action": "gates.run", "workspace": "billing-api"}),
        ("run the lint gate", {"action": "gates.run", "gates": ["lint"]}),
        (
            "run the smoke gate on website",
            {"action": "gates.run", "gates": ["smoke"], "workspace": "Website"},
        ),
        ("show the gate status", {"action": "gates.status"}),
        ("show the runs", {"action": "runs.list"}),
        ("show the last run", {"action": "runs.get", "run": "last"}),
        ("Cancel the run.", {"action": "runs.cancel", "run": "last"}),
        ("cancel the last run", {"action": "runs.cancel", "run": "last"}),
        ("show the evidence", {"action": "evidence.list"}),
        ("export the evidence pack", {"action": "evidence.export"}),
        ("show the reliability context", {"action": "capacity.read"}),
        (
            "Start a vibe session: add a dark mode toggle.",
            {"action": "vibe.run", "prompt": "add a dark mode toggle."},
        ),
        (
            "start a run, make the failing test pass",
            {"action": "runs.create", "task": "make the failing test pass"},
        ),
        ("Show me the evidence.", {"action": "evidence.list"}),
        ("Please run the gates now.", {"action": "gates.run"}),
        ("Hey Midcore, cancel the run please", {"action": "runs.cancel", "run": "last"}),
        (
            "Please start a vibe session: please add a toggle now",
            {"action": "vibe.run", "prompt": "please add a toggle now"},
        ),
    ],
)
def test_commands(text: str, intent: dict[str, object]) -> None:
    assert parse_intent(text, VOCABULARY) == intent


@pytest.mark.parametrize(
    "text",
    [
        "",
        "run the gates twice",  # more than the phrase
        "run the gates on the moon branch",  # not a workspace
        "start a vibe session",  # the prompt is missing
        "what a lovely day",
        "run the",
    ],
)
def test_not_commands(text: str) -> None:
    assert parse_intent(text, VOCABULARY) is None


def test_every_phrase_of_the_vocabulary_parses_to_its_action() -> None:
    phrases = list(VOCABULARY.phrases())
    assert len(phrases) > 50
    for template, phrase in phrases:
        intent = parse_intent(phrase, VOCABULARY)
        assert intent is not None and intent["action"] == template.action, phrase


@given(
    template=st.sampled_from([t for t in VOCABULARY.templates if t.has_text]),
    payload=st.text(st.characters(codec="ascii", categories=["L", "N", "P", "Zs"]), min_size=1),
)
def test_free_text_is_kept_as_said(template: object, payload: str) -> None:
    assert hasattr(template, "prefix")
    text = f"{template.prefix.capitalize()}: {payload}"  # type: ignore[attr-defined]
    intent = parse_intent(text, VOCABULARY)
    if not spoken(payload):
        assert intent is None  # nothing but punctuation is no prompt
        return
    assert intent is not None
    field = {"runs.create": "task", "vibe.run": "prompt"}[str(intent["action"])]
    assert intent[field] == payload.lstrip(" :;,.!?-").strip()


@given(st.text())
def test_any_text_parses_or_not_without_error(text: str) -> None:
    intent = parse_intent(text, VOCABULARY)
    assert intent is None or isinstance(intent["action"], str)


def test_grammar_holds_only_known_words() -> None:
    known = VOCABULARY.words() - {"smoke"}
    grammar = jsgf(VOCABULARY, with_text=False, known=known, pause="pause")
    assert grammar is not None
    assert "smoke" not in grammar and "lint" in grammar
    assert "<r_workspace> = billing api | develop | main | master | website;" in grammar


def test_workspace_names_are_the_folders_under_the_roots(tmp_path: Path) -> None:
    root = tmp_path
    for name in ("billing-api", "web", ".git"):
        (root / name).mkdir()
    (root / "notes.txt").write_text("")
    assert workspace_names([root, root / "missing"]) == ["billing-api", "web"]
    assert set(Vocabulary.build(workspaces=["web"]).gates) == set(DEFAULT_GATES)
