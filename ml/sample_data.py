"""The embedded sample: a synthetic customer-churn table with a real, learnable signal.

Generated deterministically (fixed seed, rounded floats), so its bytes, and so DVC's hash in data.dvc, are the same
on every machine: a fork can regenerate the data instead of needing a DVC remote.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEED = 20240611


def churn_table(rows: int, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    contract = rng.choice(["month-to-month", "one-year", "two-year"], size=rows, p=[0.55, 0.25, 0.20])
    tenure_cap = np.select([contract == "month-to-month", contract == "one-year"], [36, 60], 72)
    tenure = np.minimum(rng.gamma(1.6, 14.0, size=rows).astype(int), tenure_cap)
    internet = rng.choice(["dsl", "fiber", "none"], size=rows, p=[0.35, 0.45, 0.20])
    base = np.select([internet == "fiber", internet == "dsl"], [80.0, 55.0], 25.0)
    monthly = np.clip(base + rng.normal(0, 12, rows), 10, 150).round(2)
    total = np.clip(monthly * tenure * rng.uniform(0.9, 1.05, rows), 0, 11000).round(2)
    payment = rng.choice(
        ["electronic-check", "mailed-check", "bank-transfer", "credit-card"], size=rows, p=[0.35, 0.2, 0.22, 0.23]
    )
    region = rng.choice(["north", "south", "east", "west"], size=rows).astype(object)
    tickets = np.minimum(rng.poisson(1.2 + 1.5 * (internet == "fiber"), rows), 30)
    usage = np.clip(rng.lognormal(1.5, 0.7, rows) * (internet != "none"), 0, 60).round(3)
    senior = rng.random(rows) < 0.16
    paperless = rng.random(rows) < 0.6

    logit = (
        -1.8
        + 1.3 * (contract == "month-to-month")
        - 1.1 * (contract == "two-year")
        - 0.045 * tenure
        + 0.012 * (monthly - 60)
        + 0.35 * tickets
        + 0.6 * (payment == "electronic-check")
        + 0.5 * (internet == "fiber")
        + 0.3 * senior
        + 0.25 * paperless
        - 0.04 * usage
    )
    churned = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)

    frame = pd.DataFrame({
        "customer_id": [f"C{i:07d}" for i in range(rows)],
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "total_charges": total,
        "contract": contract,
        "payment_method": payment,
        "internet_service": internet,
        "region": region,
        "support_tickets": tickets,
        "avg_daily_usage_gb": usage,
        "senior_citizen": senior,
        "paperless_billing": paperless,
        "churned": churned,
    })
    # Real data has holes: new customers without a total yet, unknown regions, missing usage telemetry.
    frame.loc[frame["tenure_months"] == 0, "total_charges"] = np.nan
    frame.loc[rng.random(rows) < 0.03, "region"] = None
    frame.loc[rng.random(rows) < 0.05, "avg_daily_usage_gb"] = np.nan
    return frame.drop(columns="customer_id")


def write_churn_csv(path, rows: int, seed: int = SEED) -> None:
    churn_table(rows, seed).to_csv(path, index=False, lineterminator="\n")
