"""Inference engines: the same two network graphs (full frame, and region with frozen statistics)
run by torch or by OpenVINO."""
