"""What every GraphQL resolver is built with: the request context, typed errors, pagination,
scalars, and the one edge every mutation goes through (idempotency, transaction, error
mapping). Knows no domain: domains import it, it imports none of them."""
