"""Effective entitlements: what an account may use right now."""
