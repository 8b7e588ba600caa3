"""Demo data: a deterministic catalog, milestones, targets and accounts for `serve --demo`."""
