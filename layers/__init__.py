"""weiwang layers package."""
