"""Drift detection: is production data still like the training data, and if not, what moved?

Entry points: `reference.build_reference` (at training time, stored as reference.json in the model bundle),
`job.detect_drift` (the scheduled job) and `report` (the issue body and the HTML report). Nothing is imported
here, so reading the `drift:` section (`config`) costs no scipy import.
"""
