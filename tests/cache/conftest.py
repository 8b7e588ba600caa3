from tests.fixtures.redis import redis_prefix, redis_url

__all__ = ["redis_prefix", "redis_url"]  # fixtures of the shared tier's tests
