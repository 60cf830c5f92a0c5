from __future__ import annotations

import os
from pathlib import Path

import pytest

from midcore.workspaces.service import (
    WorkspaceError,
    WorkspaceRejected,
    diff_from_base,
    prepare,
    resolve_allowed_path,
)
from tests.runs.conftest import git, make_repo


async def test_copy_carries_every_kind_of_uncommitted_change(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "roots", files={"a.txt": "a\n", "b.txt": "b\n", "c.txt": "c\n"})
    (repo / "a.txt").write_text("a changed\n")
    (repo / "b.txt").unlink()
    git(repo, "mv", "c.txt", "renamed.txt")
    (repo / "new" / "deep").mkdir(parents=True)
    (repo / "new" / "deep" / "file.txt").write_text("untracked\n")
    (repo / ".gitignore").write_text("ignored.log\n")
    (repo / "ignored.log").write_text("not copied\n")
    prepared = await prepare({"path": str(repo)}, tmp_path / "run", [tmp_path / "roots"])
    work = prepared.path
    assert (work / "a.txt").read_text() == "a changed\n"
    assert not (work / "b.txt").exists()
    assert not (work / "c.txt").exists() and (work / "renamed.txt").read_text() == "c\n"
    assert (work / "new" / "deep" / "file.txt").read_text() == "untracked\n"
    assert not (work / "ignored.log").exists()
    assert prepared.source_commit == git(repo, "rev-parse", "HEAD").strip()
    patch, _ = await diff_from_base(prepared)
    assert patch == ""  # the base is the workspace as found
    (work / "a.txt").write_text("agent edit\n")
    patch, sha256 = await diff_from_base(prepared)
    assert "-a changed" in patch and "+agent edit" in patch and len(sha256) == 64


async def test_workspace_owned_by_another_user(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing ownership needs root")
    repo = make_repo(tmp_path / "roots")
    (repo / "dirty.txt").write_text("x\n")
    for path in [repo, *repo.rglob("*")]:
        os.lchown(path, 12345, 12345)
    prepared = await prepare({"path": str(repo)}, tmp_path / "run", [tmp_path / "roots"])
    assert (prepared.path / "dirty.txt").exists()


async def test_plain_folder_becomes_a_repository(tmp_path: Path) -> None:
    folder = tmp_path / "roots" / "plain"
    folder.mkdir(parents=True)
    (folder / "x.py").write_text("x = 1\n")
    prepared = await prepare({"path": str(folder)}, tmp_path / "run", [tmp_path / "roots"])
    assert prepared.source_commit is None
    (prepared.path / "x.py").write_text("x = 2\n")
    patch, _ = await diff_from_base(prepared)
    assert "+x = 2" in patch


async def test_missing_ref_is_a_clear_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "roots")
    with pytest.raises(WorkspaceError, match="ref 'nope' not found"):
        await prepare(
            {"git": f"file://{repo}", "ref": "nope"}, tmp_path / "run", [tmp_path / "roots"]
        )


def test_roots_are_required(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceRejected, match="MIDCORE_WORKSPACE_ROOTS"):
        resolve_allowed_path(str(tmp_path), [])


async def test_repository_without_commits(tmp_path: Path) -> None:
    repo = tmp_path / "roots" / "fresh"
    repo.mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "a.py").write_text("a = 1\n")
    prepared = await prepare({"path": str(repo)}, tmp_path / "run", [tmp_path / "roots"])
    assert prepared.source_commit is None
    assert (prepared.path / "a.py").read_text() == "a = 1\n"


@pytest.mark.parametrize("as_git", [True, False], ids=["git", "plain"])
async def test_data_directory_inside_the_workspace_is_never_copied(
    tmp_path: Path, as_git: bool
) -> None:
    roots = tmp_path / "roots"
    if as_git:
        repo = make_repo(roots)
    else:
        repo = roots / "plain"
        repo.mkdir(parents=True)
        (repo / "app.py").write_text("x = 1\n")
    data_dir = repo / ".midcore"
    (data_dir / "keys" / "t").mkdir(parents=True)
    (data_dir / "keys" / "t" / "k.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    (data_dir / "midcore.db").write_text("db")
    (repo / "notes.txt").write_text("kept\n")
    prepared = await prepare({"path": str(repo)}, tmp_path / "run", [roots], exclude=[data_dir])
    assert not (prepared.path / ".midcore").exists()
    assert (prepared.path / "notes.txt").read_text() == "kept\n"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("/roots/app\x00x", "control characters"),
        ("/roots/" + "a" * 300, "cannot be used"),
    ],
)
def test_unusable_paths_are_rejected(tmp_path: Path, raw: str, message: str) -> None:
    (tmp_path / "roots").mkdir()
    with pytest.raises(WorkspaceRejected, match=message):
        resolve_allowed_path(raw.replace("/roots", str(tmp_path / "roots")), [tmp_path / "roots"])


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://user:hunter2@example.com/r.git", "must not carry a password"),
        ("http://example.com/r.git", "scheme 'http' is not allowed"),
        ("file://evilhost/srv/r", "not a host"),
        ("file:///srv/r\x00", "control characters"),
        ("ext::sh -c id", "not allowed"),
    ],
)
def test_git_urls_are_checked(tmp_path: Path, url: str, message: str) -> None:
    from midcore.workspaces.service import check_git_url

    with pytest.raises(WorkspaceRejected, match=message):
        check_git_url(url, [tmp_path])
