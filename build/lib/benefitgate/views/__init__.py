"""The account benefit view: one account composed from every domain (tier, entitlements,
usage, seats, milestones, targets, suggestion), its loaders and its GraphQL types."""
