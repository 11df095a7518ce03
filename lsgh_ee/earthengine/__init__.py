"""Earth Engine integration: session and credentials (recipes and transfers come later)."""
