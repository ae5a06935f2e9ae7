"""The champion is re-scored only on holdout rows it never trained on: after fresh rows, another seed, or neither."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ml.dataset import load_dataset
from ml.report import write_pr_reports
from ml.steps import compare_step, evaluate_step, validate_step
from tests.conftest import Workspace
from tests.core.conftest import params_of, promote_in_process, train_in_process


def row_set(X: pd.DataFrame, y: np.ndarray) -> set[tuple]:
    return set(zip(*(X[c].fillna(-1).astype(str) for c in X.columns), map(str, y), strict=True))


def test_a_champion_trained_before_rows_were_added_never_sees_its_training_rows_in_the_holdout(
        workspace: Workspace) -> None:
    ws = workspace
    frame = pd.read_csv(ws.data)
    frame.head(len(frame) * 3 // 5).to_csv(ws.data, index=False)  # the champion's data: the first 60%
    champion_data = load_dataset(params_of(ws))
    train_in_process(ws)
    promote_in_process(ws)
    frame.sample(frac=1.0, random_state=5).to_csv(ws.data, index=False)  # all rows, in another order
    ws.edit_params(lambda raw: raw["model"]["params"].update(learning_rate=0.05))
    train_in_process(ws)

    today = load_dataset(params_of(ws))
    comparison = compare_step(params_of(ws), ws.model, ws.reports / "comparison.json")

    assert not row_set(today.X_holdout, today.y_holdout) & row_set(champion_data.X_train, champion_data.y_train)
    assert row_set(champion_data.X_holdout, champion_data.y_holdout) <= row_set(today.X_holdout, today.y_holdout)
    assert comparison["holdout"]["rows"] == len(today.y_holdout)
    assert "champion_trained_rows" not in comparison["holdout"]
    assert not any("champion" in reason and "trained on" in reason for reason in comparison["reasons"])


def test_a_champion_split_with_another_seed_is_compared_on_the_rows_both_held_out(
        with_champion: Workspace) -> None:
    ws = with_champion
    ws.edit_params(lambda raw: raw["split"].update(seed=raw["split"]["seed"] + 1))
    train_in_process(ws)
    full_holdout = len(load_dataset(params_of(ws)).y_holdout)
    validate_step(params_of(ws), ws.reports)  # the steps in their order: validation starts a run
    evaluate_step(params_of(ws), ws.model, ws.reports / "metrics.json")

    comparison = compare_step(params_of(ws), ws.model, ws.reports / "comparison.json")

    left_out = comparison["holdout"]["champion_trained_rows"]
    assert comparison["holdout"]["rows"] + left_out == full_holdout
    assert 0.7 < left_out / full_holdout < 0.9  # an unrelated 20% split: about 80% of our holdout it trained on
    seed = params_of(ws).seed
    assert (f"compared on the {comparison['holdout']['rows']} holdout rows the champion held out too, leaving out "
            f"{left_out} the champion trained on (its split: test_size 0.2, seed {seed - 1}; now 0.2, {seed})"
            in comparison["reasons"])
    metrics = json.loads((ws.reports / "comparison.json").read_text())["metrics"]
    assert all(m["champion"] is not None for m in metrics.values())
    whole = json.loads((ws.reports / "metrics.json").read_text())["metrics"]
    assert all(metrics[name]["challenger_whole_holdout"] == whole[name] for name in metrics)
    assert any(metrics[name]["challenger"] != whole[name] for name in metrics)  # fewer rows, other values
    primary = comparison["primary_metric"]
    comment = write_pr_reports(ws.reports)[0].read_text()
    assert (f"- Holdout: {comparison['holdout']['rows']} rows, fingerprint `{comparison['holdout']['fingerprint']}` "
            f"(champion and challenger scored on the same rows; {left_out} more left out: the champion trained on "
            f"them. On all {full_holdout} holdout rows the challenger's {primary} is {whole[primary]:.4f})") in comment


def test_a_champion_from_before_the_row_hash_split_is_compared_with_a_warning(with_champion: Workspace) -> None:
    ws = with_champion
    metadata_file = ws.registry / "v1" / "metadata.json"
    metadata = json.loads(metadata_file.read_text())
    del metadata["split_method"]
    metadata_file.write_text(json.dumps(metadata))

    comparison = compare_step(params_of(ws), ws.model, ws.reports / "comparison.json")

    assert comparison["holdout"]["rows"] == len(load_dataset(params_of(ws)).y_holdout)
    assert any(reason.startswith("the champion's training rows were chosen another way")
               for reason in comparison["reasons"])
