"""Inference: the engine host process, its protocol and client, and the backends.

The only package that imports ``llama_cpp``, and only inside the engine process.
"""
