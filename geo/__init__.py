"""weiwang geo package."""
