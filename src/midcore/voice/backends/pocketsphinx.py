"""The embedded default: CMU PocketSphinx with the English model its package ships; fully offline.

Recognition tries, in order:
1. a free-text command: the grammar of prefixes ("start a vibe session") on the speech before a
   pause, then the general model on the rest;
2. the command grammar (every closed command phrase, with the tenant's workspace and gate names),
   which recognises a command exactly when one was said;
3. the general English model on the whole recording.

A grammar always answers with one of its phrases, even for speech that is not a command. Its answer
is accepted only when an unconstrained phone recogniser hears about as many phones as the phrase
has: "please open the settings page" forced onto "show the evidence" leaves most phones unexplained.
This check is coarse: free speech about as long as a command can still pass for one (the benchmark
counts how often), which is why an intent is only ever a proposal for the client to confirm.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from midcore.voice.audio import Audio
from midcore.voice.backends.base import Segment, Transcript
from midcore.voice.errors import BackendUnavailable, LanguageUnsupported
from midcore.voice.vocabulary import Vocabulary, jsgf

RATE = 16000
FRAMES_PER_SECOND = 100
# Silence around the speech lets the recogniser settle before the first word and after the last.
_PAD_SECONDS = 0.3
# A grammar phrase is accepted when the phone loop hears between half and about twice its phones
# (the loop splits phones more finely than the dictionary does).
_MIN_PHONE_RATIO = 0.5
_MAX_PHONE_RATIO = 2.0
_PHONE_SLACK = 4
# A pause between a command prefix and its free text: at least this long, quieter than this.
_PAUSE_SECONDS = 0.12
_PAUSE_RELATIVE_LEVEL = 0.06
_MAX_PREFIX_CUTS = 3
_PAUSE = "midcore_pause"
_NOT_WORDS = {"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", _PAUSE}

_LM_SEARCH = "_default"


@dataclass
class _Recogniser:
    decoder: Any
    # The phrases each grammar holds: when the search cannot reach the end of its grammar it
    # answers with the part it reached, which is no command.
    commands: frozenset[str]
    prefixes: frozenset[str]


class _Pool:
    """Decoders are not thread-safe and slow to load: keep idle ones per vocabulary.

    Only the most recently used vocabularies keep theirs, so that many tenants with different
    workspace names do not hold a decoder each forever.
    """

    max_vocabularies = 8

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[tuple[str, ...], tuple[str, ...]], list[_Recogniser]] = {}

    @contextmanager
    def acquire(self, vocabulary: Vocabulary) -> Iterator[_Recogniser]:
        with self._lock:
            idle = self._idle.setdefault(vocabulary.key, [])
            recogniser = idle.pop() if idle else None
        if recogniser is None:
            recogniser = _load(vocabulary)
        try:
            yield recogniser
        finally:
            with self._lock:
                idle = self._idle.pop(vocabulary.key, [])
                self._idle[vocabulary.key] = [*idle, recogniser]  # now the most recent
                while len(self._idle) > self.max_vocabularies:
                    del self._idle[next(iter(self._idle))]


_pool = _Pool()


def _load(vocabulary: Vocabulary) -> _Recogniser:
    try:
        from pocketsphinx import Decoder
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise BackendUnavailable("the pocketsphinx package is not installed") from exc
    # Filler words inserted into the grammar make the search drop the last word of a phrase, so
    # silence is a word of the grammar instead; the wide beams keep long slot lists searchable.
    decoder = Decoder(samprate=RATE, loglevel="FATAL", fsgusefiller=False, beam=1e-80, wbeam=1e-60)
    decoder.add_word(_PAUSE, "SIL", True)
    known = {word for word in vocabulary.words() if decoder.lookup_word(word) is not None}
    commands = jsgf(vocabulary, with_text=False, known=known, pause=_PAUSE)
    # The speech before a pause ends in a little silence of its own; a pause word there would
    # swallow the last word of the prefix.
    prefixes = jsgf(vocabulary, with_text=True, known=known)
    if commands:
        decoder.add_jsgf_string("commands", commands)
    if prefixes:
        decoder.add_jsgf_string("prefixes", prefixes)
    decoder.add_allphone_file("phones")
    return _Recogniser(
        decoder,
        frozenset(p for _, p in vocabulary.phrases() if commands and _all_known(p, known)),
        frozenset(
            p for _, p in vocabulary.phrases(with_text=True) if prefixes and _all_known(p, known)
        ),
    )


def _all_known(phrase: str, known: set[str]) -> bool:
    return all(word in known for word in phrase.split())


@dataclass(frozen=True)
class _Result:
    text: str
    words: list[tuple[str, float, float]]

    def segment(self, offset: float) -> Segment | None:
        if not self.words:
            return None
        start = max(0.0, self.words[0][1] + offset)
        return Segment(start, max(start, self.words[-1][2] + offset), self.text)


class PocketsphinxBackend:
    name = "pocketsphinx"

    def transcribe(self, audio: Audio, vocabulary: Vocabulary, language: str | None) -> Transcript:
        if language not in (None, "en"):
            raise LanguageUnsupported(
                f"the pocketsphinx backend knows English ('en') only, not {language!r}"
            )
        pad = np.zeros(int(_PAD_SECONDS * RATE), dtype="<i2")
        speech = np.frombuffer(audio.pcm16(RATE), dtype="<i2")
        pcm = np.concatenate([pad, speech, pad])
        with _pool.acquire(vocabulary) as recogniser:
            segments = _recognise(recogniser, pcm)
        text = " ".join(segment.text for segment in segments)
        return Transcript(text=text, language="en", segments=segments)


def _recognise(recogniser: _Recogniser, pcm: np.ndarray[Any, Any]) -> list[Segment]:
    offset = -_PAD_SECONDS
    # Free-text commands first: forced onto the closed grammar, "start a vibe session, add a
    # dark mode toggle" can pass for a long closed command; the pause after its prefix tells.
    if recogniser.prefixes:
        start = int(_PAD_SECONDS * RATE)
        for cut in _pauses(pcm)[:_MAX_PREFIX_CUTS]:
            before = pcm[start:cut]
            prefix = _decode(recogniser.decoder, "prefixes", before)
            if (
                prefix
                and prefix.text in recogniser.prefixes
                and _plausible(recogniser.decoder, prefix, before)
            ):
                rest = _decode(recogniser.decoder, _LM_SEARCH, pcm[cut:])
                if rest and rest.text:
                    return _segments([(prefix, 0.0), (rest, offset + cut / RATE)])
    if recogniser.commands:
        command = _decode(recogniser.decoder, "commands", pcm)
        if (
            command
            and command.text in recogniser.commands
            and _plausible(recogniser.decoder, command, pcm)
        ):
            return _segments([(command, offset)])
    whole = _decode(recogniser.decoder, _LM_SEARCH, pcm)
    return _segments([(whole, offset)] if whole else [])


def _segments(parts: list[tuple[_Result, float]]) -> list[Segment]:
    found = [result.segment(offset) for result, offset in parts]
    return [segment for segment in found if segment is not None and segment.text]


def _decode(decoder: Any, search: str, pcm: np.ndarray[Any, Any]) -> _Result | None:
    decoder.activate_search(search)
    decoder.start_utt()
    decoder.process_raw(pcm.tobytes(), no_search=False, full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    if hypothesis is None:
        return None
    words = [
        (
            segment.word,
            segment.start_frame / FRAMES_PER_SECOND,
            segment.end_frame / FRAMES_PER_SECOND,
        )
        for segment in decoder.seg()
        if segment.word not in _NOT_WORDS
    ]
    # Alternative pronunciations come back as "word(2)".
    words = [(word.split("(")[0], start, end) for word, start, end in words]
    return _Result(" ".join(word for word, _, _ in words), words)


def _plausible(decoder: Any, result: _Result, pcm: np.ndarray[Any, Any]) -> bool:
    expected = sum(len((decoder.lookup_word(word) or "").split()) for word, _, _ in result.words)
    heard = _decode(decoder, "phones", pcm)
    count = len([word for word, _, _ in heard.words if word != "SIL"]) if heard else 0
    return (
        expected > 0
        and count >= _MIN_PHONE_RATIO * expected
        and count <= _MAX_PHONE_RATIO * expected + _PHONE_SLACK
    )


def _pauses(pcm: np.ndarray[Any, Any]) -> list[int]:
    """Sample offsets of the middles of pauses between stretches of speech."""
    frame = RATE // FRAMES_PER_SECOND
    count = len(pcm) // frame
    if count == 0:
        return []
    frames = pcm[: count * frame].astype(np.float32).reshape(count, frame)
    level = np.sqrt(np.mean(frames**2, axis=1))
    loud = level > _PAUSE_RELATIVE_LEVEL * float(level.max())
    speaking = np.flatnonzero(loud)
    if speaking.size == 0:
        return []
    cuts: list[int] = []
    quiet_run = 0
    for index in range(int(speaking[0]), int(speaking[-1]) + 1):
        if loud[index]:
            if quiet_run >= _PAUSE_SECONDS * FRAMES_PER_SECOND:
                cuts.append((index - quiet_run // 2) * frame)
            quiet_run = 0
        else:
            quiet_run += 1
    return cuts
