"""`python -m fdstyle_core COMMAND`: the argument parser (main), shared options, one module per command."""
