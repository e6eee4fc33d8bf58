"""The scheduler: binds pending pods to nodes (filters, then scores)."""
