"""Live use: the worker thread that reads a camera, runs the pipeline and writes the output, and
the live judging of Automatic height that the worker and the command line share."""
