"""Who is asking: principals, frontend tokens, API keys, and the credentials of a request."""
