"""The event feed as GraphQL: polling `events(after, first)` and the live subscription."""
