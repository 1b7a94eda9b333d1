"""Files and frames in and out: video sources and sinks, write-then-rename, per-user folders (no torch here)."""
