"""The response cache: tags, the per-request record of what a response read, the bounded
in-process tier, the shared Redis tier, and the invalidation both follow."""
