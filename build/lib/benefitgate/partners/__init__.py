"""Partners (resellers, CRMs, customer-success tools) and the accounts each manages."""
