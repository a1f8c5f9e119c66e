"""Ponder's OpenAI-compatible API (``ponder serve``, and the app's Settings switch)."""
