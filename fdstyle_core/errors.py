"""The one exception type whose message is meant for the user, not for a traceback."""


class FdstyleError(Exception):
    """A problem with the user's input or environment, explained in one readable line."""


class StyleError(FdstyleError):
    """A style file that cannot be used (missing, corrupt, wrong keys, unsafe content)."""
