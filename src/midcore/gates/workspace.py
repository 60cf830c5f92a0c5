"""What the workspace holds: its files, its git state, digests of both."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from midcore.errors import ConfigurationError
from midcore.sandbox import build_env

# Never inputs, in a workspace without git or for paths git does not ignore.
_SKIP_DIRS = {
    ".git",
    ".hg",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".midcore",
    ".eggs",
    "build",
    "dist",
    "target",
}


class ChangedSinceError(ConfigurationError):
    """`--changed-since` names a ref this checkout cannot resolve."""


def git(workspace: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        cwd=workspace,
        env=build_env({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}),
        capture_output=True,
        text=True,
        check=check,
    )


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Gitignore-like globs: `**` crosses directories, `*` and `?` do not."""
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


def matches_any(path: str, patterns: Iterable[str]) -> bool:
    return any(glob_to_regex(p).match(path) for p in patterns)


@dataclass
class Workspace:
    root: Path
    excluded: list[str] = field(default_factory=list)  # repo-relative dirs to leave out
    warnings: list[str] = field(default_factory=list)
    _files: list[str] | None = None
    _digests: dict[str, str] = field(default_factory=dict)

    @property
    def is_git(self) -> bool:
        return (self.root / ".git").exists()

    def files(self) -> list[str]:
        """Repo-relative paths of the files in the working tree (git's view when there is git)."""
        if self._files is None:
            self._files = sorted(self._list_files())
        return self._files

    def _list_files(self) -> Iterable[str]:
        if self.is_git:
            out = git(self.root, "ls-files", "-z", "-co", "--exclude-standard", check=False)
            if out.returncode == 0:
                for path in out.stdout.split("\0"):
                    if path and not self._is_excluded(path) and (self.root / path).is_file():
                        yield path
                return
            # Say so rather than silently losing .gitignore and the commit from the evidence.
            first = (out.stderr.strip().splitlines() or ["unknown error"])[0]
            self.warnings.append(
                f"git cannot read this repository ({first.removeprefix('fatal: ')}); "
                "files were listed without .gitignore and no commit is recorded"
            )
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
            rel_dir = os.path.relpath(dirpath, self.root)
            for name in filenames:
                rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
                if not self._is_excluded(rel):
                    yield rel

    def _is_excluded(self, path: str) -> bool:
        first = path.split("/", 1)[0]
        if first in _SKIP_DIRS:
            return True
        return any(path == d or path.startswith(d + "/") for d in self.excluded)

    def select(self, patterns: Iterable[str]) -> list[str]:
        regexes = [glob_to_regex(p) for p in patterns]
        return [f for f in self.files() if any(r.match(f) for r in regexes)]

    def file_sha256(self, path: str) -> str:
        digest = self._digests.get(path)
        if digest is None:
            h = hashlib.sha256()
            try:
                with open(self.root / path, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        h.update(chunk)
            except OSError:
                h.update(b"\0missing")
            digest = h.hexdigest()
            self._digests[path] = digest
        return digest

    def digest_of(self, paths: Iterable[str]) -> str:
        """sha256 over `<sha256>  <path>` lines, sorted by path (the shape of sha256sum output)."""
        h = hashlib.sha256()
        for path in sorted(paths):
            h.update(f"{self.file_sha256(path)}  {path}\n".encode())
        return h.hexdigest()

    def tree_sha256(self) -> str:
        return self.digest_of(self.files())

    def head(self) -> str | None:
        if not self.is_git:
            return None
        out = git(self.root, "rev-parse", "--verify", "-q", "HEAD", check=False)
        return out.stdout.strip() or None

    def is_dirty(self) -> bool:
        if not self.is_git:
            return False
        out = git(self.root, "status", "--porcelain", "--untracked-files=normal", check=False)
        return any(
            line and not self._is_excluded(line[3:].strip('"')) for line in out.stdout.splitlines()
        )

    def resolve_ref(self, ref: str) -> str:
        """The commit `ref` names, or a ChangedSinceError that says what to do."""
        if not self.is_git:
            raise ChangedSinceError(f"{self.root} is not a git repository; cannot compare to {ref}")
        out = git(self.root, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False)
        if out.returncode == 0:
            return out.stdout.strip()
        shallow = git(self.root, "rev-parse", "--is-shallow-repository", check=False)
        if shallow.stdout.strip() == "true":
            raise ChangedSinceError(
                f"ref '{ref}' is not in this shallow clone; fetch it first "
                f"(git fetch --deepen=50, or git fetch origin {ref}) or pass a ref that is present"
            )
        raise ChangedSinceError(f"ref '{ref}' does not name a commit in {self.root}")

    def changed_files(self, ref: str) -> list[str]:
        """Files that differ between `ref` and the working tree, plus new untracked files."""
        commit = self.resolve_ref(ref)
        diff = git(self.root, "diff", "--name-only", "-z", "--no-renames", commit, check=False)
        if diff.returncode != 0:
            raise ChangedSinceError(f"git diff against '{ref}' failed: {diff.stderr.strip()}")
        untracked = git(self.root, "ls-files", "-z", "-o", "--exclude-standard", check=False)
        names = set(filter(None, diff.stdout.split("\0")))
        names |= set(filter(None, untracked.stdout.split("\0")))
        return sorted(n for n in names if not self._is_excluded(n))


def fnmatch_any(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)
