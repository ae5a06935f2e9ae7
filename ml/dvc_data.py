"""Get the DVC-tracked data into the workspace and prove it is the version data.dvc names.

With a DVC remote configured we `dvc pull`. Without one (a fresh fork), the embedded sample is regenerated
deterministically; either way the result is checked against the hash in data.dvc, so the pipeline never trains
on data that differs from what the commit says. Data edited since the last `dvc add` is never overwritten: that is
an error saying how to record or discard the edit.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ml.errors import DataError
from ml.params import Params
from ml.sample_data import write_churn_csv

DVC_FILE = "data.dvc"


def open_repo(root: Path):
    """The DVC repository at root (DVC's own errors become one DataError line)."""
    from dvc.repo import Repo  # imported lazily: DVC is slow to import and only this module needs it

    for name in ("dvc", "dvc_data", "dvc_objects"):  # their warnings would add lines to our one-line errors
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        return Repo(str(root))
    except Exception as exc:  # dvc raises its own NotDvcRepoError and friends
        raise DataError(f"{root}: not a DVC repository ({_one_line(exc)})") from None


def _one_line(exc: Exception) -> str:
    """DVC messages span lines and carry terminal colours."""
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split())


def default_remote(root: Path) -> str | None:
    with open_repo(root) as repo:
        remotes = repo.config.get("remote", {})
        return repo.config["core"].get("remote") or (next(iter(remotes)) if len(remotes) == 1 else None)


def is_current(root: Path) -> bool:
    """True when the workspace data hashes to what data.dvc records.

    Hashes the workspace itself: `dvc status` cannot tell a modified file from one merely absent from the cache,
    and a fresh clone has no cache.
    """
    with open_repo(root) as repo:
        outs = tracked_outputs(repo)
        return bool(outs) and not any(out.changed_checksum() for out in outs)


def tracked_outputs(repo) -> list:
    """The outputs data.dvc tracks; a file DVC cannot read (a merge conflict, a hand edit) is one DataError."""
    try:
        return [out for stage in repo.stage.collect(DVC_FILE) for out in stage.outs]
    except Exception as exc:  # dvc raises its own YAMLSyntaxError, YAMLValidationError and friends
        raise DataError(f"{DVC_FILE}: DVC cannot read it ({_one_line(exc)}); resolve the conflict or edit in it, "
                        "or run `dvc add data` again") from None


def unsaved_files(out) -> list[str]:
    """The workspace files under a DVC output that DVC's cache does not hold, hashed as DVC hashes them: what
    `dvc checkout` refuses to overwrite without --force. After a fetch the cache holds what data.dvc records, so
    these are the edits made since the last `dvc add`; an older version you had pulled is in the cache and not one.
    """
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.tree import Tree

    if not out.exists:
        return []
    _, _, obj = build(out.cache, out.fs_path, out.fs, out.hash_name, ignore=out.dvcignore, dry_run=True)
    files = [(key, hash_info) for key, _, hash_info in obj] if isinstance(obj, Tree) else [((), obj.hash_info)]
    return [out.fs.join(out.fs_path, *key) for key, hash_info in files if not out.cache.exists(hash_info.value)]


def pull(root: Path, remote: str) -> None:
    """`dvc pull`, as its two steps: fetch into the cache (the workspace untouched), then check out, unless the
    workspace holds edits the checkout would throw away."""
    with open_repo(root) as repo:
        try:
            repo.fetch(targets=[DVC_FILE], remote=remote)
        except Exception as exc:
            raise DataError(f"dvc pull from remote '{remote}' failed: {_one_line(exc)}") from None
        for out in tracked_outputs(repo):
            if out.exists and out.changed_checksum() and unsaved_files(out):
                tracked = f"{out}/" if out.isdir() else str(out)
                raise DataError(f"{tracked} differs from {DVC_FILE} (edited since the last `dvc add`): run "
                                f"`dvc add {out}` to record your change (then `dvc push`), or "
                                f"`dvc checkout --force {out}` to discard it")
        try:
            repo.checkout(targets=[DVC_FILE])
        except Exception as exc:
            raise DataError(f"dvc pull from remote '{remote}' failed: {_one_line(exc)}") from None


def ensure_data(params: Params) -> str:
    """Make params.data_path current; returns how ('present', 'pulled' or 'regenerated')."""
    root = params.root
    if not (root / DVC_FILE).is_file():
        raise DataError(f"{root / DVC_FILE}: not found; track your data with `dvc add data`")
    if params.data_path.is_file() and is_current(root):
        return "present"
    remote = default_remote(root)
    if remote:
        pull(root, remote)
        how = "pulled"
    elif params.data_path.exists():  # edited by hand: never overwrite someone's data with the sample
        raise DataError(f"{params.data_label} differs from the hash in {DVC_FILE} and no DVC remote is configured: "
                        f"run `dvc add data` if you changed it on purpose, or delete it to get the original back")
    elif params.sample_rows:
        params.data_path.parent.mkdir(parents=True, exist_ok=True)
        write_churn_csv(params.data_path, params.sample_rows)
        how = "regenerated"
    else:
        raise DataError(f"{params.data_label} is missing and no DVC remote is configured: "
                        "add one with `dvc remote add -d NAME URL`")
    if not is_current(root):
        raise DataError(f"{params.data_path} does not match the hash in {DVC_FILE} after it was {how}; "
                        "run `dvc add data` if you changed the data on purpose")
    return how
