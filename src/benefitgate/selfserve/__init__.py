"""Self-serve actions: what a frontend may change on its own account, as the vendor allows."""
