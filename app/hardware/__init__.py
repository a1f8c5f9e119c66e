"""Hardware: probe, memory estimator, offload planner, speed predictor. Qt-free."""
