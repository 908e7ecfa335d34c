"""`pa-grasp-report`: the paper's Table I and figures, measured here, next to the published
numbers, the baselines, the ablations and a clutter-clearing protocol.

Modules: ``metrics`` (pure: success rates, std over seeds, declutter rate, stopping rules),
``rows`` (what each table row is, the published numbers), ``cells`` (one independent
evaluation cell, run in a worker process), ``clutter`` (one clutter-clearing round in the
simulator), ``timing`` (decision latency, simulation speed), ``figures`` (PNGs),
``markdown`` (report.md) and ``cli`` (the command).
"""
