"""weiwang api package."""
