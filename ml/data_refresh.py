"""Replace the tracked data with a new file and record it in data.dvc (retrain.yml).

The new file is validated against params.yaml's schema, and split as training will split it, before it replaces
anything; then `dvc add` rewrites data.dvc and `dvc push` uploads the data so the PR's pipeline can `dvc pull` it.
Without a DVC remote the PR could not fetch the data, so nothing is replaced; a failed add or push puts the previous
data and data.dvc back.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ml.data import read_data
from ml.dataset import dataset_from_frame
from ml.dvc_data import DVC_FILE, default_remote, open_repo
from ml.errors import DataError
from ml.fileio import write_bytes_atomic
from ml.params import Params
from ml.validation import validate_frame

TRACKED_DIR = Path(DVC_FILE).stem  # data.dvc tracks the data/ directory


def replace_data(params: Params, new_file: Path, source: str) -> bool:
    """Validate new_file (named source in errors), move it over params.data_path, update data.dvc and push it;
    returns whether data.dvc changed."""
    _require_tracked(params)
    remote = _require_remote(params.root)
    frame = read_data(params, new_file)
    result = validate_frame(frame, params)
    if not result.ok:
        raise DataError(f"{source}: the new data does not fit params.yaml: {result.one_line()}")
    try:  # and the checks validate_data.py makes after the schema's: both sides of the split, a class to learn
        dataset_from_frame(frame, params, data_sha256="")
    except DataError as exc:
        raise DataError(f"{source}: the new data cannot be trained on: {exc}") from None
    dvc_file = params.root / DVC_FILE
    with _restored_on_failure(params.root, params.data_path, dvc_file) as before:
        params.data_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(new_file), params.data_path)
        _add_and_push(params.root, remote)
    return dvc_file.read_bytes() != before


def _require_tracked(params: Params) -> None:
    """`dvc add data` records only data/: a data.path elsewhere would be replaced but never recorded."""
    tracked = (params.root / TRACKED_DIR).resolve()
    if not params.data_path.resolve().is_relative_to(tracked):
        raise DataError(f"data.path {params.data_label} is outside {TRACKED_DIR}/, the directory {DVC_FILE} "
                        f"tracks: move the data under {TRACKED_DIR}/ to refresh it")


def _require_remote(root: Path) -> str:
    """The PR's pipeline pulls the new data from the remote; without one it would exist only on this runner."""
    remote = default_remote(root)
    if not remote:
        raise DataError("the new training data needs a DVC remote (`dvc remote add -d NAME URL`) so the PR can "
                        "fetch it; nothing was replaced")
    return remote


@contextmanager
def _restored_on_failure(root: Path, data_path: Path, dvc_file: Path) -> Iterator[bytes | None]:
    """Keep the previous data (outside data/, so `dvc add` never sees it) and data.dvc until the block succeeds;
    yields data.dvc as it was (None: there was none)."""
    dvc_before = dvc_file.read_bytes() if dvc_file.is_file() else None
    with tempfile.TemporaryDirectory(dir=root, prefix=".refresh-previous-") as scratch:
        previous = Path(scratch) / data_path.name
        if data_path.exists():
            data_path.rename(previous)
        try:
            yield dvc_before
        except BaseException:
            data_path.unlink(missing_ok=True)
            if previous.exists():
                previous.rename(data_path)
            if dvc_before is None:
                dvc_file.unlink(missing_ok=True)
            else:
                write_bytes_atomic(dvc_file, dvc_before)
            raise


def _add_and_push(root: Path, remote: str) -> None:
    with open_repo(root) as repo:
        repo.add(str(root / TRACKED_DIR))  # absolute: DVC reads relative targets from the cwd
        try:
            repo.push(targets=[DVC_FILE], remote=remote)
        except Exception as exc:  # dvc raises many kinds
            raise DataError(f"dvc push to remote '{remote}' failed: {str(exc).splitlines()[0]}; "
                            f"the previous data and {DVC_FILE} are back in place") from None
