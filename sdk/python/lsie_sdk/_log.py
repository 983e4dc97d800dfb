"""Logs as the host reads them (docs/PROTOCOL.md §3.6): one hclog JSON object
per line on stderr, "@level" and "@message" always strings."""
from __future__ import annotations

import datetime
import json
import logging
import math
import os
import sys
import threading
from typing import Any

LEVELS = ("trace", "debug", "info", "warn", "error")


def _plain(v: Any) -> Any:
    """v as a JSON value the host can parse (no NaN, no odd types)."""
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    try:
        f = float(v)  # numpy scalars
    except (TypeError, ValueError):
        return str(v)
    return f if math.isfinite(f) else str(f)


class Logger:
    """A structured logger: log.info("stream opened", stream=sid, threshold=t).

    Writes are synchronous, so a line written before a crash is not lost;
    the host filters by its own level, so every level is written.
    """

    def __init__(self, name: str = "", fd: int = 2):
        self.name = name
        self._fd = fd
        self._mu = threading.Lock()

    def log(self, level: str, message: str, **kv: Any) -> None:
        if level not in LEVELS:
            level = "info"
        now = datetime.datetime.now(datetime.timezone.utc)
        rec: dict[str, Any] = {"@level": level, "@message": str(message),
                               # exactly six fractional digits (§3.6)
                               "@timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        if self.name:
            rec["@module"] = self.name
        for k, v in kv.items():
            rec[k] = _plain(v)
        line = (json.dumps(rec, separators=(",", ":")) + "\n").encode()
        with self._mu:
            try:
                os.write(self._fd, line)
            except OSError:
                pass

    def trace(self, message: str, **kv: Any) -> None:
        self.log("trace", message, **kv)

    def debug(self, message: str, **kv: Any) -> None:
        self.log("debug", message, **kv)

    def info(self, message: str, **kv: Any) -> None:
        self.log("info", message, **kv)

    def warn(self, message: str, **kv: Any) -> None:
        self.log("warn", message, **kv)

    def error(self, message: str, **kv: Any) -> None:
        self.log("error", message, **kv)


class _Handler(logging.Handler):
    """Routes the standard logging module into the same JSON lines."""

    def __init__(self, log: Logger):
        super().__init__(logging.NOTSET)
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            level = "error"
        elif record.levelno >= logging.WARNING:
            level = "warn"
        elif record.levelno >= logging.INFO:
            level = "info"
        elif record.levelno >= logging.DEBUG:
            level = "debug"
        else:
            level = "trace"
        kv: dict[str, Any] = {"logger": record.name}
        if record.exc_info:
            kv["error"] = logging.Formatter().formatException(record.exc_info)
        try:
            msg = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            msg = str(record.msg)
        self._log.log(level, msg, **kv)


_default = Logger()


def logger() -> Logger:
    """The plugin's logger: JSON lines on stderr, shown in the host's log
    under the plugin's name with their levels."""
    return _default


def route_stdlib_logging() -> None:
    """Sends the logging module's records (libraries', plugin code's) to the
    plugin's logger; called by serve()."""
    root = logging.getLogger()
    root.handlers[:] = [_Handler(_default)]
    root.setLevel(logging.DEBUG)
    logging.captureWarnings(True)
    sys.excepthook = lambda t, v, tb: _default.error("uncaught exception", error=f"{t.__name__}: {v}")
