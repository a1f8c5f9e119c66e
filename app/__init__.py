"""Ponder: chat offline with local reasoning models and watch them think."""

__version__ = "0.1.0"
