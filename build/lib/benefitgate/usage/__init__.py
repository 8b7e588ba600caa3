"""Usage: counters per account, metric and period."""
