"""Word error rate, for tests and benchmarks of the backends."""

from __future__ import annotations

from midcore.voice.vocabulary import spoken


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference words), ignoring case and punctuation."""
    ref, hyp = spoken(reference).split(), spoken(hypothesis).split()
    previous = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        current = [i]
        for j, other in enumerate(hyp, 1):
            substitution = previous[j - 1] + (word != other)
            current.append(min(previous[j] + 1, current[j - 1] + 1, substitution))
        previous = current
    return previous[-1], len(ref)
