"""Rate limits: token buckets per caller, in process or shared through Redis."""
