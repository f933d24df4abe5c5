"""weiwang dispatch package."""
