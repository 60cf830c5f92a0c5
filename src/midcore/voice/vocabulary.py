"""The spoken commands Midcore understands, and the words a recogniser should expect.

One table of templates serves both directions: the pocketsphinx backend turns it into a grammar so
that commands are recognised exactly, and `midcore.voice.intents` matches any backend's text
against it to find the intent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Gate names a tenant has before it configures any (the kinds DESIGN.md lists).
DEFAULT_GATES = ("tests", "lint", "types", "coverage", "security", "secrets", "diff", "docs")
# Branch-like names people say when they mean the workspace checked out on that branch.
DEFAULT_WORKSPACES = ("main", "master", "develop")

_WORD = re.compile(r"[a-z0-9']+")


def spoken(name: str) -> str:
    """How a name is said: 'billing-api' and 'Billing_API' are both 'billing api'."""
    return " ".join(_WORD.findall(name.lower().replace("_", " ")))


@dataclass(frozen=True)
class Template:
    """A command phrase: words and slots. `{text}` is free speech and may only come last."""

    phrase: str
    action: str
    fixed: tuple[tuple[str, str], ...] = ()

    @property
    def parts(self) -> list[str]:
        return self.phrase.split()

    @property
    def has_text(self) -> bool:
        return self.parts[-1] == "{text}"

    @property
    def prefix(self) -> str:
        """The words before the free text (the whole phrase when it has none)."""
        return " ".join(self.parts[:-1] if self.has_text else self.parts)


TEMPLATES: tuple[Template, ...] = (
    Template("run the gates", "gates.run"),
    Template("run the gates on {workspace}", "gates.run"),
    Template("run the gates on the {workspace} branch", "gates.run"),
    Template("run the {gate} gate", "gates.run"),
    Template("run the {gate} gate on {workspace}", "gates.run"),
    Template("show the gate status", "gates.status"),
    Template("show the runs", "runs.list"),
    Template("show the last run", "runs.get", (("run", "last"),)),
    Template("cancel the run", "runs.cancel", (("run", "last"),)),
    Template("cancel the last run", "runs.cancel", (("run", "last"),)),
    Template("show the evidence", "evidence.list"),
    Template("export the evidence pack", "evidence.export"),
    Template("show the reliability context", "capacity.read"),
    Template("start a run {text}", "runs.create"),
    Template("start a vibe session {text}", "vibe.run"),
)

# Which intent field the free text of an action fills.
TEXT_FIELDS = {"runs.create": "task", "vibe.run": "prompt"}


@dataclass(frozen=True)
class Vocabulary:
    """The names that can fill the slots: the tenant's workspaces and gates."""

    workspaces: tuple[str, ...] = DEFAULT_WORKSPACES
    gates: tuple[str, ...] = DEFAULT_GATES
    templates: tuple[Template, ...] = field(default=TEMPLATES)

    @classmethod
    def build(cls, workspaces: Iterable[str] = (), gates: Iterable[str] = ()) -> Vocabulary:
        """Defaults plus the given names, each kept once, in a stable order."""
        return cls(
            workspaces=_unique([*DEFAULT_WORKSPACES, *workspaces]),
            gates=_unique([*DEFAULT_GATES, *gates]),
        )

    @property
    def key(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return self.workspaces, self.gates

    def slot_values(self, slot: str) -> dict[str, str]:
        """Spoken form -> canonical name for a slot."""
        names = {"workspace": self.workspaces, "gate": self.gates}[slot]
        return {spoken(name): name for name in names if spoken(name)}

    def phrases(self, *, with_text: bool = False) -> Iterator[tuple[Template, str]]:
        """Every closed phrase (or, with `with_text`, every prefix of a free-text command)."""
        for template in self.templates:
            if template.has_text != with_text:
                continue
            yield from ((template, phrase) for phrase in self._expand(template.prefix))

    def words(self) -> set[str]:
        found: set[str] = set()
        for with_text in (False, True):
            for _template, phrase in self.phrases(with_text=with_text):
                found.update(phrase.split())
        return found

    def prompt(self) -> str:
        """A hint for backends that take one (Whisper): the words commands are made of."""
        names = ", ".join([*self.workspaces, *self.gates])
        return f"Midcore commands: run the gates on main, start a vibe session. Names: {names}."

    def _expand(self, phrase: str) -> Iterator[str]:
        parts = phrase.split()
        for index, part in enumerate(parts):
            if part.startswith("{"):
                values = self.slot_values(part.strip("{}"))
                for value in values:
                    head = " ".join([*parts[:index], value])
                    for tail in self._expand(" ".join(parts[index + 1 :])):
                        yield f"{head} {tail}".strip()
                return
        yield phrase


def jsgf(
    vocabulary: Vocabulary, *, with_text: bool, known: set[str], pause: str | None = None
) -> str | None:
    """A JSGF grammar of the closed phrases (or free-text prefixes) whose words are all `known`.

    Slots are rules of their own rather than every phrase spelled out: with hundreds of parallel
    alternatives the search prunes the right one. Rule names carry a prefix, since pocketsphinx
    confuses a rule and a word of the same name. `pause` is a word that sounds like silence, allowed
    before and after the phrase.
    """
    rules: dict[str, list[str]] = {}
    for slot in ("workspace", "gate"):
        values = [v for v in vocabulary.slot_values(slot) if all(w in known for w in v.split())]
        if values:
            rules[slot] = sorted(values)
    alternatives: list[str] = []
    for template in vocabulary.templates:
        if template.has_text != with_text:
            continue
        parts = template.prefix.split()
        slots = [part.strip("{}") for part in parts if part.startswith("{")]
        words = [part for part in parts if not part.startswith("{")]
        if all(slot in rules for slot in slots) and all(word in known for word in words):
            alternatives.append(
                " ".join(f"<r_{p.strip('{}')}>" if p.startswith("{") else p for p in parts)
            )
    if not alternatives:
        return None
    lines = ["#JSGF V1.0;", "grammar midcore;"]
    lines += [f"<r_pause> = {pause};"] if pause else []
    lines += [f"<r_{slot}> = {' | '.join(values)};" for slot, values in rules.items()]
    body = " |\n    ".join(f"({alternative})" for alternative in alternatives)
    around = "<r_pause>*" if pause else ""
    lines.append(f"public <r_command> = {around} (\n    {body}\n) {around};")
    return "\n".join(lines) + "\n"


def workspace_names(roots: Iterable[Path]) -> list[str]:
    """The folders directly under the allowed workspace roots: the names people will say."""
    names: list[str] = []
    for root in roots:
        try:
            names.extend(child.name for child in sorted(root.iterdir()) if child.is_dir())
        except OSError:
            continue
    return [name for name in names if not name.startswith(".")]


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for name in names:
        if spoken(name):
            seen.setdefault(name, None)
    return tuple(seen)
