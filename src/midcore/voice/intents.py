"""From transcribed text to the command it states, if any.

Works on any backend's text: case, punctuation and hyphens are ignored when matching, and the free
text of a command ("start a vibe session: add a dark mode toggle") is taken from the original
text, punctuation and all. An intent is only a proposal: nothing here starts a run.
"""

from __future__ import annotations

import re

from midcore.voice.vocabulary import TEXT_FIELDS, Template, Vocabulary, spoken

Intent = dict[str, str | list[str]]

_WORD = re.compile(r"[A-Za-z0-9']+")
_LEADING_JUNK = re.compile(r"^[\s:;,.!?-]+")


def parse_intent(text: str, vocabulary: Vocabulary) -> Intent | None:
    words = spoken(text).split()
    if not words:
        return None
    for template in vocabulary.templates:
        slots = _match(template.parts, words, vocabulary)
        if slots is None:
            continue
        intent: Intent = {"action": template.action}
        intent.update(dict(template.fixed))
        if "workspace" in slots:
            intent["workspace"] = slots["workspace"]
        if "gate" in slots:
            intent["gates"] = [slots["gate"]]
        if template.has_text:
            intent[TEXT_FIELDS[template.action]] = _text_after(
                text, _prefix_word_count(template, slots)
            )
        return intent
    return None


def _match(parts: list[str], words: list[str], vocabulary: Vocabulary) -> dict[str, str] | None:
    """Slot values when `words` is exactly `parts` (with `{text}` taking one word or more)."""
    if not parts:
        return {} if not words else None
    head, rest = parts[0], parts[1:]
    if head == "{text}":
        return {"text": " ".join(words)} if words else None
    if head.startswith("{"):
        slot = head.strip("{}")
        # Longest names first, so that "billing api" wins over "billing".
        for value, name in sorted(vocabulary.slot_values(slot).items(), key=lambda v: -len(v[0])):
            size = len(value.split())
            if words[:size] == value.split():
                found = _match(rest, words[size:], vocabulary)
                if found is not None:
                    return {slot: name, f"_{slot}_words": str(size), **found}
        return None
    if words and words[0] == head:
        return _match(rest, words[1:], vocabulary)
    return None


def _prefix_word_count(template: Template, slots: dict[str, str]) -> int:
    count = 0
    for part in template.parts[:-1]:
        count += int(slots[f"_{part.strip('{}')}_words"]) if part.startswith("{") else 1
    return count


def _text_after(text: str, word_count: int) -> str:
    """The original text after its first `word_count` words, without the separator after them."""
    matches = list(_WORD.finditer(text.replace("_", " ")))
    # `spoken` splits hyphenated words; count the same way.
    end = matches[word_count - 1].end() if word_count else 0
    return _LEADING_JUNK.sub("", text[end:]).strip()
