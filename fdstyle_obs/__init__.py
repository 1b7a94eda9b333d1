"""OBS Studio glue for fdstyle: ctypes access to libobs and the script's settings logic.

Nothing here is imported by :mod:`fdstyle_core`; the core engine stays free of OBS.
"""
