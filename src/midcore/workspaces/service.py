"""Materialising a run's workspace: an allowed local folder or a git URL, always as a private copy.

The copy is a git repository whose first commit ("base") is the workspace as the run found it,
uncommitted changes included; the run's result is the diff from that commit.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from midcore.errors import ValidationFailed

_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "midcore",
    "GIT_AUTHOR_EMAIL": "midcore@localhost",
    "GIT_COMMITTER_NAME": "midcore",
    "GIT_COMMITTER_EMAIL": "midcore@localhost",
}
# Remote helpers like ext:: run arbitrary commands; only plain transports are allowed.
_ALLOWED_GIT_SCHEMES = {"https", "ssh", "git", "file"}


class WorkspaceRejected(ValidationFailed):
    code = "workspace_rejected"
    title = "Workspace not allowed"


class WorkspaceError(Exception):
    """The workspace could not be materialised (clone failed, ref missing, ...)."""


@dataclass(frozen=True)
class PreparedWorkspace:
    path: Path
    base_commit: str
    source: str
    source_commit: str | None


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def resolve_allowed_path(raw: str, roots: list[Path]) -> Path:
    """The real folder `raw` names, if it lies under one of `roots` (symlinks resolved)."""
    if not roots:
        raise WorkspaceRejected(
            "no workspace roots are configured: set MIDCORE_WORKSPACE_ROOTS to the folders "
            "under which run workspaces may lie"
        )
    if "\0" in raw or any(ord(ch) < 32 for ch in raw):
        raise WorkspaceRejected("workspace path contains control characters")
    given = Path(raw)
    if not given.is_absolute():
        raise WorkspaceRejected(f"workspace path must be absolute: {raw}")
    if ".." in given.parts:
        raise WorkspaceRejected(f"workspace path must not contain '..': {raw}")
    try:
        real = given.resolve()
        if not any(_within(real, root.resolve()) for root in roots):
            raise WorkspaceRejected(f"workspace path {raw} is not under an allowed workspace root")
        if not real.is_dir():
            raise WorkspaceRejected(f"workspace path {raw} is not an existing folder")
    except OSError as exc:  # a name too long, a loop of links, ...
        raise WorkspaceRejected(f"workspace path {raw} cannot be used: {exc.strerror}") from None
    return real


def check_git_url(url: str, roots: list[Path]) -> None:
    if any(ord(ch) < 32 for ch in url):
        raise WorkspaceRejected("git URL contains control characters")
    try:
        parsed = urlparse(url)
        password = parsed.password
    except ValueError as exc:
        raise WorkspaceRejected(f"git URL is not valid: {exc}") from None
    scheme = parsed.scheme or ("ssh" if "@" in url and ":" in url else "")
    if scheme not in _ALLOWED_GIT_SCHEMES:
        raise WorkspaceRejected(f"git URL scheme {scheme or 'none'!r} is not allowed")
    if password:
        # It would be stored with the run and shown to every reader of the tenant.
        raise WorkspaceRejected(
            "git URL must not carry a password; give the server access another way "
            "(a deploy key or a credential helper)"
        )
    if scheme == "file" and parsed.netloc not in ("", "localhost"):
        raise WorkspaceRejected("file:// git URLs name a local path, not a host")
    if scheme == "file":
        # A local repository is a local path: the same roots apply.
        resolve_allowed_path(parsed.path, roots)


@functools.cache
def _global_config() -> Path:
    """Workspaces are often owned by another user than the server (a checkout, an unpacked
    archive); Midcore only reads them, so git's ownership check must not refuse them. It has to
    be global configuration: `git -c` does not reach the upload-pack of a local clone."""
    path = Path(tempfile.mkdtemp(prefix="midcore-git-")) / "config"
    path.write_text("[safe]\n\tdirectory = *\n")
    return path


async def git(*args: str, cwd: Path, check: bool = True) -> str:
    process = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=str(cwd),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
        env={
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": os.environ.get("HOME", "/"),
            "LANG": "C.UTF-8",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": str(_global_config()),
            **_GIT_IDENTITY,
        },
    )
    stdout, stderr = await process.communicate()
    if check and process.returncode != 0:
        message = stderr.decode(errors="replace").strip().splitlines()
        raise WorkspaceError(f"git {args[0]} failed: {message[-1] if message else 'no output'}")
    return stdout.decode(errors="replace")


async def _is_git_toplevel(path: Path) -> bool:
    top = await git("rev-parse", "--show-toplevel", cwd=path, check=False)
    if not top.strip():
        return False
    return await asyncio.to_thread(os.path.realpath, top.strip()) == str(path)


def _is_excluded(relative: str, excluded: list[str]) -> bool:
    return any(relative == e or relative.startswith(e + "/") for e in excluded)


async def _copy_dirty_state(source: Path, target: Path, excluded: list[str]) -> None:
    """Bring uncommitted changes (edits, deletions, untracked files) of `source` into `target`."""
    status = await git("status", "--porcelain", "-z", "--untracked-files=all", cwd=source)
    entries = status.split("\0")
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        code, relative = entry[:2], entry[3:]
        paths = [relative]
        if code[0] in "RC" and index < len(entries):  # followed by the old name
            paths.append(entries[index])
            index += 1
        for path in paths:
            if not _is_excluded(path, excluded):
                await asyncio.to_thread(_mirror_file, source / path, target / path)


def _mirror_file(source: Path, target: Path) -> None:
    if source.is_symlink() or source.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        shutil.copy2(source, target, follow_symlinks=False)
    elif not source.exists() and (target.is_symlink() or target.is_file()):
        target.unlink()


async def _commit_base(path: Path) -> str:
    await git("add", "-A", cwd=path)
    await git("commit", "-q", "--allow-empty", "--no-verify", "-m", "midcore base", cwd=path)
    return (await git("rev-parse", "HEAD", cwd=path)).strip()


def _relative_inside(paths: list[Path], root: Path) -> list[str]:
    inside = []
    for path in paths:
        real = path.resolve()
        if _within(real, root) and real != root:
            inside.append(real.relative_to(root).as_posix())
    return inside


async def prepare(
    workspace: dict[str, str | None],
    run_dir: Path,
    roots: list[Path],
    exclude: list[Path] | None = None,
) -> PreparedWorkspace:
    """Make the run's private copy under `run_dir/work` and commit its base state.

    Folders in `exclude` (the server's data directory: database, signing keys, other runs)
    are never copied, even when they lie inside the workspace.
    """
    target = run_dir / "work"
    await asyncio.to_thread(run_dir.mkdir, parents=True, exist_ok=True)
    if workspace.get("path"):
        source = resolve_allowed_path(str(workspace["path"]), roots)
        excluded = _relative_inside(exclude or [], source)
        source_commit: str | None = None
        if await _is_git_toplevel(source):
            # --shared borrows the source's objects: fast, and nothing is written to the source.
            await git(
                "clone", "-q", "--shared", "--no-checkout", str(source), str(target), cwd=run_dir
            )
            head = await git("rev-parse", "--verify", "-q", "HEAD", cwd=source, check=False)
            source_commit = head.strip() or None  # None: a repository with no commit yet
            if source_commit:
                await git("checkout", "-q", "--detach", source_commit, cwd=target)
            await _copy_dirty_state(source, target, excluded)
            for relative in excluded:  # even if someone committed it
                await asyncio.to_thread(shutil.rmtree, target / relative, ignore_errors=True)
        else:

            def ignore(folder: str, names: list[str]) -> set[str]:
                base = Path(folder).relative_to(source).as_posix()
                skipped = {".git"}
                for name in names:
                    relative = name if base == "." else f"{base}/{name}"
                    if _is_excluded(relative, excluded):
                        skipped.add(name)
                return skipped

            await asyncio.to_thread(shutil.copytree, source, target, symlinks=True, ignore=ignore)
            await git("init", "-q", cwd=target)
        base = await _commit_base(target)
        return PreparedWorkspace(target, base, str(source), source_commit)
    url = str(workspace.get("git") or "")
    check_git_url(url, roots)
    await git("clone", "-q", "--no-checkout", "--", url, str(target), cwd=run_dir)
    ref = workspace.get("ref") or "HEAD"
    resolved = (
        await git("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", cwd=target, check=False)
    ).strip()
    if not resolved:
        resolved = (
            await git(
                "rev-parse", "--verify", "-q", f"origin/{ref}^{{commit}}", cwd=target, check=False
            )
        ).strip()
    if not resolved:
        raise WorkspaceError(f"ref {ref!r} not found in {url}")
    await git("checkout", "-q", "--detach", resolved, cwd=target)
    base = await _commit_base(target)
    return PreparedWorkspace(target, base, url, resolved)


async def diff_from_base(prepared: PreparedWorkspace) -> tuple[str, str]:
    """The unified diff of everything the run changed, and its sha256."""
    await git("add", "-A", cwd=prepared.path)
    patch = await git("diff", "--cached", "--binary", prepared.base_commit, cwd=prepared.path)
    return patch, hashlib.sha256(patch.encode()).hexdigest()
