"""Turning model output into what the chat view draws: Markdown -> Qt HTML, TeX -> images."""
