"""Accounts: lookups of an account with its subscription, and who may see one."""
