"""Pure-Python core: no Qt, no llama.cpp."""
