"""Headless commands over the same services the GUI uses (`ponder chat|inspect|...`)."""
