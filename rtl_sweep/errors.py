"""The one error type users see: a problem and its fix, printed as one line by the CLI."""


class RtlError(Exception):
    """An error caused by the user's input or environment, with a hint that says how to fix it."""

    def __init__(self, problem: str, fix: str = ""):
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem} ({self.fix})" if self.fix else self.problem


class ConfigError(RtlError):
    """A malformed or impossible run config, search space or override."""


class DataError(RtlError):
    """An unknown dataset, a missing file, or data that cannot support the requested partition."""


class ResultsError(RtlError):
    """A results path, table or query that cannot be read."""


class ClusterError(RtlError):
    """No Ray at the address, resources no node has, a job that failed."""
