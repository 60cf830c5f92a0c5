"""From transcribed text to the command it states, if any.

Works on any backend's text: case, punctuation and hyphens are ignored when matching, and the free
text of a command ("start a vibe session: add a dark mode toggle") is taken from the original
text, punctuation and all. An intent is only a proposal: nothing here starts a run.
"""

from __future__ import annotations

import re

from midcore.voice.vocabulary import TEXT_FIELDS, Vocabulary, spoken

Intent = dict[str, str | list[str]]

_WORD = re.compile(r"[A-Za-z0-9']+")
_LEADING_JUNK = re.compile(r"^[\s:;,.!?-]+")
_FILLERS = {"please", "me", "now", "hey", "ok", "okay", "midcore"}


def parse_intent(text: str, vocabulary: Vocabulary) -> Intent | None:
    words = spoken(text).split()
    if not words:
        return None
    for template in vocabulary.templates:
        found = _match(template.parts, words, vocabulary, 0)
        if found is None:
            continue
        slots, consumed = found
        intent: Intent = {"action": template.action}
        intent.update(dict(template.fixed))
        if "workspace" in slots:
            intent["workspace"] = slots["workspace"]
        if "gate" in slots:
            intent["gates"] = [slots["gate"]]
        if template.has_text:
            intent[TEXT_FIELDS[template.action]] = _text_after(text, consumed)
        return intent
    return None


def _match(
    parts: list[str], words: list[str], vocabulary: Vocabulary, consumed: int
) -> tuple[dict[str, str], int] | None:
    """Slot values when `words` say `parts`, and how many words came before the free text.

    `{text}` takes one word or more. Politeness around the command words ("please", "show me the
    runs") is skipped, as the general-purpose backends write down everything that was said.
    """
    if not parts:
        return ({}, consumed) if all(word in _FILLERS for word in words) else None
    head, rest = parts[0], parts[1:]
    if head == "{text}":
        return ({}, consumed) if words else None
    if words and words[0] in _FILLERS and words[0] != head:
        skipped = _match(parts, words[1:], vocabulary, consumed + 1)
        if skipped is not None:
            return skipped
    if head.startswith("{"):
        slot = head.strip("{}")
        # Longest names first, so that "billing api" wins over "billing".
        for value, name in sorted(vocabulary.slot_values(slot).items(), key=lambda v: -len(v[0])):
            size = len(value.split())
            if words[:size] == value.split():
                found = _match(rest, words[size:], vocabulary, consumed + size)
                if found is not None:
                    return {slot: name, **found[0]}, found[1]
        return None
    if words and words[0] == head:
        return _match(rest, words[1:], vocabulary, consumed + 1)
    return None


def _text_after(text: str, word_count: int) -> str:
    """The original text after its first `word_count` words, without the separator after them."""
    matches = list(_WORD.finditer(text.replace("_", " ")))
    # `spoken` splits hyphenated words; count the same way.
    end = matches[word_count - 1].end() if word_count else 0
    return _LEADING_JUNK.sub("", text[end:]).strip()
