"""Signed entitlement snapshots, for checks made offline or at the edge."""
