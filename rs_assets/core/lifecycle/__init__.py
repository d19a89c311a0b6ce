"""Data lifecycle: expiry of staged and produced items (the reference's data_lifecycle)."""
