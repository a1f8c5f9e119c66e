"""Engine backends: llama.cpp for real models, replay for recorded streams."""
