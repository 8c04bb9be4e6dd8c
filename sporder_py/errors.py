"""One error hierarchy for the whole library.

Every failure a user can cause (bad argument, bad file, refused operation, lost race) is a
``SporderError`` carrying a stable string ``code``, the process ``exit_code`` the CLI uses
(DESIGN §4), and, where Windows has one, the WSAE number in ``winsock_error``.  The domain
raises these; only the CLI turns them into exit statuses and messages.  No click import here.
"""

from __future__ import annotations

# Exit statuses (DESIGN §4).  The CLI maps the hierarchy below onto these in one place.
EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_CATALOG = 3
EXIT_CONFLICT = 4


class SporderError(Exception):
    """Base class: a one-sentence message plus machine-readable fields."""

    exit_code: int = EXIT_REFUSED
    default_code: str = "error"

    def __init__(self, message: str, *, code: str | None = None,
                 winsock_error: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.winsock_error = winsock_error

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": self.message}
        if self.winsock_error is not None:
            out["winsock_error"] = self.winsock_error
        return out


class UsageError(SporderError):
    """A malformed argument (exit 2)."""

    exit_code = EXIT_USAGE
    default_code = "usage"


class CatalogFileError(SporderError):
    """The catalog (or an imported) file is missing, unreadable or invalid (exit 3)."""

    exit_code = EXIT_CATALOG
    default_code = "catalog-invalid"


class OperationRefused(SporderError):
    """The operation was refused or found nothing (exit 1)."""

    exit_code = EXIT_REFUSED
    default_code = "refused"


class WinsockError(OperationRefused):
    """A Winsock-level failure with its WSAE number (exit 1)."""

    default_code = "winsock-error"


class ConflictError(SporderError):
    """Lock not obtained in time, or an --if-serial mismatch (exit 4)."""

    exit_code = EXIT_CONFLICT
    default_code = "conflict"
