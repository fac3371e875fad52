"""One exception family, so a caller (the flow, the CLI) can turn any of them into one line."""


class MiproError(Exception):
    """Base of every error this package raises on bad input or a failing dependency."""


class LMError(MiproError):
    """The LM could not answer: unreachable endpoint, repeated server errors, timeouts."""


class BudgetExceededError(MiproError):
    """The hard budget of LM calls is spent; completed work (cache, study) is kept."""


class EmptyTrainsetError(MiproError):
    """An optimizer was given no training (or validation) examples."""


class MetricError(MiproError):
    """The task metric raised on a prediction; names the example so it can be fixed."""
