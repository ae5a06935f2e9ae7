"""Replace the tracked data with a new file and record it in data.dvc (retrain.yml).

The new file is validated against params.yaml's schema before it replaces anything; then `dvc add` rewrites
data.dvc and, with a DVC remote configured, `dvc push` uploads the data so the PR's pipeline can `dvc pull` it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ml.data import read_table
from ml.dvc_data import DVC_FILE, default_remote, open_repo
from ml.errors import DataError
from ml.params import Params
from ml.validation import validate_frame


def replace_data(params: Params, new_file: Path) -> bool:
    """Validate new_file, move it over params.data_path and update data.dvc; returns whether data.dvc changed."""
    result = validate_frame(read_table(new_file), params)
    if not result.ok:
        raise DataError(f"{new_file}: the new data does not fit params.yaml: {result.one_line()}")
    dvc_file = params.root / DVC_FILE
    before = dvc_file.read_bytes() if dvc_file.is_file() else b""
    params.data_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(new_file), params.data_path)
    with open_repo(params.root) as repo:
        repo.add(str(params.root / Path(DVC_FILE).stem))  # absolute: DVC reads relative targets from the cwd
    remote = default_remote(params.root)
    if remote:
        with open_repo(params.root) as repo:
            try:
                repo.push(targets=[DVC_FILE], remote=remote)
            except Exception as exc:  # dvc raises many kinds
                raise DataError(f"dvc push to remote '{remote}' failed: {str(exc).splitlines()[0]}") from None
    return dvc_file.read_bytes() != before
