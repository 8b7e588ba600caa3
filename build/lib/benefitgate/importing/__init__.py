"""Bulk import from CSV files: accounts, then their subscriptions, in batches, with a
per-row report of what was refused while the valid rows land."""
