"""Live use: the worker thread that reads a camera, runs the pipeline and writes the output."""
