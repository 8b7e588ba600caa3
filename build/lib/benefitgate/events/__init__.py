"""The event outbox and everything that follows it: the cursor, reads and writes, the
listener, the live hub and per-subscriber streams, retention, and who may see an event."""
