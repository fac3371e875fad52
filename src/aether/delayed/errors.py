"""The one error a model or its input raises: it names the thing and the fix."""


class ModelError(ValueError):
    """A probabilistic program was given an invalid parameter, value or shape."""
