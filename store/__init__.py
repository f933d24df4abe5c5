"""weiwang store package."""
