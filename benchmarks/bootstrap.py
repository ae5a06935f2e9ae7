"""The paired bootstrap of compare.py against scikit-learn scoring each resample, binary and multi-class.

    .venv/bin/python benchmarks/bootstrap.py                       # 40k holdout rows, 2 and 3 classes
    .venv/bin/python benchmarks/bootstrap.py --rows 10000 --classes 5 --json out.json

Two synthetic models are scored on the same --rows holdout rows with --classes classes. Timed, in this process:

- ours: ml.bootstrap.paired_delta_samples with --resamples resamples (every metric, both models);
- baseline: the same resamples' rows rebuilt and scored with scikit-learn's metric functions, one resample at a
  time (the way a bootstrap is usually written); timed on --baseline-resamples of them and scaled to --resamples.

Prints each time and the speed-up; the test suite checks that both give the same numbers.
"""

from __future__ import annotations

import json
import os
import time

import click
import numpy as np
import sklearn
from sklearn import metrics as skm

from ml.bootstrap import paired_delta_samples, resample_blocks
from ml.evaluate import Outputs

METRICS = ["accuracy", "precision", "recall", "f1", "log_loss", "brier", "roc_auc"]


def synthetic_models(rows: int, classes: int, seed: int) -> tuple[np.ndarray, Outputs, Outputs]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, rows)
    labels = np.arange(classes)

    def model(noise: float) -> Outputs:
        logits = (y[:, None] == labels[None, :]) + rng.normal(0, noise, (rows, classes))
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return Outputs(proba.argmax(axis=1), proba, tuple(labels))

    return y, model(0.9), model(0.8)


def sklearn_scores(y: np.ndarray, out: Outputs) -> list[float]:
    binary = len(out.classes) == 2
    average = "binary" if binary else "macro"
    onehot = y[:, None] == np.asarray(out.classes)[None, :]
    return [
        skm.accuracy_score(y, out.predictions),
        skm.precision_score(y, out.predictions, average=average, zero_division=0),
        skm.recall_score(y, out.predictions, average=average, zero_division=0),
        skm.f1_score(y, out.predictions, average=average, zero_division=0),
        skm.log_loss(y, y_proba=out.probabilities, labels=list(out.classes)),
        (skm.brier_score_loss(y, out.probabilities[:, 1]) if binary
         else float(np.mean(np.sum((out.probabilities - onehot) ** 2, axis=1)))),
        (skm.roc_auc_score(y, out.probabilities[:, 1]) if binary
         else skm.roc_auc_score(y, out.probabilities, multi_class="ovr", labels=list(out.classes))),
    ]


def baseline_seconds(y: np.ndarray, champion: Outputs, challenger: Outputs, resamples: int, seed: int) -> float:
    """scikit-learn on each resample's rows, both models; skip_parameter_validation makes it as fast as it gets."""
    every_row = np.arange(len(y))
    started = time.perf_counter()
    with sklearn.config_context(skip_parameter_validation=True):
        for counts in resample_blocks(len(y), resamples, seed):
            for drawn in counts:
                rows = np.repeat(every_row, drawn)
                for out in (champion, challenger):
                    sklearn_scores(y[rows], Outputs(out.predictions[rows], out.probabilities[rows], out.classes))
    return time.perf_counter() - started


@click.command()
@click.option("--rows", default=40_000, show_default=True, help="Holdout rows (the pipeline benchmark's holdout).")
@click.option("--classes", "class_counts", multiple=True, type=click.IntRange(min=2), default=(2, 3),
              show_default=True, help="Number of classes (repeatable).")
@click.option("--resamples", default=1000, show_default=True, help="Bootstrap resamples (params.yaml's default).")
@click.option("--baseline-resamples", default=64, show_default=True,
              help="Resamples the scikit-learn baseline is timed on (then scaled to --resamples).")
@click.option("--repeat", default=3, show_default=True, help="Runs of ours; the best counts.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the numbers here.")
def main(rows: int, class_counts: tuple[int, ...], resamples: int, baseline_resamples: int, repeat: int,
         json_out: str | None) -> None:
    results = {"rows": rows, "resamples": resamples, "cores": os.cpu_count(), "runs": []}
    click.echo(f"paired bootstrap, {rows} holdout rows, {resamples} resamples, {os.cpu_count()} cores")
    for classes in class_counts:
        y, champion, challenger = synthetic_models(rows, classes, seed=classes)
        ours = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            paired_delta_samples(y, champion, challenger, "classification", METRICS, resamples, seed=1)
            ours = min(ours, time.perf_counter() - started)
        sampled = baseline_seconds(y, champion, challenger, baseline_resamples, seed=1)
        baseline = sampled * resamples / baseline_resamples
        click.echo(f"  {classes} classes: ours {ours:.2f} s, scikit-learn per resample {baseline:.1f} s "
                   f"(from {baseline_resamples} resamples): {baseline / ours:.0f}× faster")
        results["runs"].append({"classes": classes, "ours_seconds": ours, "sklearn_seconds": baseline,
                                "speedup": baseline / ours})
    if json_out:
        with open(json_out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
