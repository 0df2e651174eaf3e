"""Log records: grpc's report of a reply sent after the caller ended the call is one INFO line."""

from __future__ import annotations

import json
import logging
import sys

from server.logs import CallerGoneFilter, JsonFormatter, setup_logging

METHOD = "[/vertex_gateway.v1.ChatService/StreamChat]"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def _logger(name: str, level: int) -> tuple[logging.Logger, _Lines]:
    logger = logging.getLogger(name)
    logger.handlers[:], logger.filters[:] = [], []
    logger.propagate = False
    logger.setLevel(level)
    lines = _Lines()
    logger.addHandler(lines)
    logger.addFilter(CallerGoneFilter())
    return logger, lines


def _log_send_race(logger: logging.Logger) -> None:
    # As grpc's aio server does (server.pyx.pxi, _handle_exceptions): the method formatted in.
    try:
        raise RuntimeError('Failed "execute_batch": (<SendMessageOperation>,)')
    except RuntimeError:
        logger.exception(f"ExecuteBatchError raised in core by servicer method {METHOD}")


def test_the_send_race_is_one_info_line_without_a_traceback() -> None:
    logger, lines = _logger("tests.logs.grpc_info", logging.INFO)
    _log_send_race(logger)
    assert lines.lines == [
        {
            "ts": lines.lines[0]["ts"],
            "level": "INFO",
            "logger": "tests.logs.grpc_info",
            "msg": "the call ended (cancelled, its deadline passed or its connection closed) while a reply"
            f" message was being sent: {METHOD}",
        }
    ]


def test_the_send_race_is_dropped_below_the_loggers_level() -> None:
    logger, lines = _logger("tests.logs.grpc_warning", logging.WARNING)
    _log_send_race(logger)
    logger.warning("kept")
    assert [line["msg"] for line in lines.lines] == ["kept"]


def test_other_errors_keep_their_level_and_traceback() -> None:
    logger, lines = _logger("tests.logs.grpc_other", logging.INFO)
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception(f"Unexpected [ValueError] raised by servicer method {METHOD}")
    (line,) = lines.lines
    assert line["level"] == "ERROR" and "ValueError: boom" in str(line["exc"])
    assert sys.exc_info() == (None, None, None)


def test_setup_logging_filters_grpcs_logger_once() -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    grpc_log = logging.getLogger("grpc._cython.cygrpc")
    try:
        setup_logging("INFO", "json")
        setup_logging("INFO", "json")
        assert sum(isinstance(f, CallerGoneFilter) for f in grpc_log.filters) == 1
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        grpc_log.filters[:] = [f for f in grpc_log.filters if not isinstance(f, CallerGoneFilter)]
