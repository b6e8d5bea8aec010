class EnrichError(Exception):
    """A problem the operator can fix: printed as one clear message, without a traceback."""
