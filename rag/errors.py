"""Errors with remedies: every message names the file or setting and what to do."""


class LectureLensError(Exception):
    """Base of every error LectureLens raises on purpose."""


class ConfigError(LectureLensError):
    """A setting is missing or wrong."""


class IngestError(LectureLensError):
    """One source file could not be ingested; the rest of the run goes on."""

    def __init__(self, source: str, problem: str, remedy: str = ""):
        self.source = source
        self.problem = problem
        msg = f"Could not ingest {source}: {problem}."
        if remedy:
            msg += f" {remedy}"
        super().__init__(msg)


class ProviderError(LectureLensError):
    """An outside model service (Gemini) failed after retries."""


class ItemRejectedError(ProviderError):
    """The provider rejected one item of a batch (found by bisecting); `index` is its position in the call."""

    def __init__(self, message: str, index: int):
        super().__init__(message)
        self.index = index


class IndexMismatchError(LectureLensError):
    """The index was built with another embedder or chunking settings."""


class InputError(LectureLensError):
    """A query input (an uploaded image, a dataset file) is unusable."""
