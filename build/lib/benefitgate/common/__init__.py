"""The vocabulary every domain shares: what a change carries and its common refusals,
quantity bounds, ISO instants. Imports nothing of the project."""
