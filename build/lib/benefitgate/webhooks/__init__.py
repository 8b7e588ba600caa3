"""Signed webhooks: endpoints that partners and internal tools register, and the delivery
of outbox events to them, at least once and in cursor order per endpoint, from any
replica, to the Standard Webhooks specification."""
