"""The engine: the style network, style files, devices and precision, the painter, and the frame pipeline."""
