"""Benefitgate: an async GraphQL entitlement and benefits gateway."""

__all__ = ["__version__"]

__version__ = "0.1.0"
