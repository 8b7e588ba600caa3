"""Accounts and their benefit view."""
