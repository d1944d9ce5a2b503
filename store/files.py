"""Files that hold the trader's data are readable by their owner only (0600), whatever the umask."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["private_file", "private_sqlite"]

PRIVATE = 0o600
# SQLite's side files: it gives each the database file's own mode when it creates them
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_file(path: str | Path) -> None:
    """Create `path` empty with mode 0600 if it does not exist, else tighten it to 0600; never truncate."""
    try:
        # O_EXCL: created here, so the mode is ours from the first byte (no window with umask's 0644)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE)
    except FileExistsError:
        os.chmod(path, PRIVATE)
        return
    try:
        os.fchmod(fd, PRIVATE)  # a umask such as 0o077 only removes bits; this states them
    finally:
        os.close(fd)


def private_sqlite(path: str) -> None:
    """Make an SQLite database and any side files it left 0600 before the database is opened."""
    if path == ":memory:" or path.startswith("file:") or not path:
        return  # in memory, or a URI whose file SQLite resolves itself
    if not Path(path).parent.is_dir():
        return  # let SQLite report the missing directory as it always has
    private_file(path)
    for suffix in _SQLITE_SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path + suffix, PRIVATE)
