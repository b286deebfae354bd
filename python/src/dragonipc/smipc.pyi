"""Type stubs for dragonipc.smipc."""

__all__ = [
    'init_library',
    'clean_library',
    'open_channel',
    'Channel',
    'Listener',
    'AsyncReader',
    'LOG_DISABLE',
    'LOG_BASIC',
    'LOG_ALL',
    'CHAN_R',
    'CHAN_W',
    'SmipcError',
    'ParameterTypeError',
    'OppositeEndClosedError',
    'OperationFailedError',
    'SmipcClosedError',
    'SmipcTimeout',
    'SmipcLimitError',
    'create_string_buffer',
    'unlink',
]

from ctypes import create_string_buffer as create_string_buffer
from typing import Any, AsyncIterator, Callable, Optional, Union

from . import _dragonipc
from ._errors import (SmipcError as SmipcError, ParameterTypeError as ParameterTypeError,
                      OppositeEndClosedError as OppositeEndClosedError,
                      OperationFailedError as OperationFailedError,
                      SmipcClosedError as SmipcClosedError, SmipcTimeout as SmipcTimeout,
                      SmipcLimitError as SmipcLimitError)

LOG_DISABLE: int
LOG_BASIC: int
LOG_ALL: int
CHAN_R: int
CHAN_W: int

def init_library(log_level: int = ...) -> None: ...
def clean_library() -> None: ...
def unlink(cid: Union[bytes, str]) -> bool: ...
def open_channel(cid: Union[bytes, str], mode: int, chanSz: int = ...) -> "Channel": ...

class Channel(_dragonipc.Stream):
    cid: Union[bytes, str]
    name: str
    mode: int
    chan_sz: int
    def __init__(self, cid: Union[bytes, str], mode: int, chan_sz: int = ...) -> None: ...
    def open(self) -> "Channel": ...
    def close(self) -> None: ...
    def __enter__(self) -> "Channel": ...
    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None: ...
    def print_status(self) -> None: ...
    def read_async(self, callback: Callable[[bytes], Any],
                   on_close: Optional[Callable[[], Any]] = ...) -> "Listener": ...
    def async_reader(self) -> "AsyncReader": ...

class Listener:
    channel: Channel
    callback: Callable[[bytes], Any]
    on_close: Optional[Callable[[], Any]]
    exception: Optional[BaseException]
    stopped: bool
    def __init__(self, channel: Channel, callback: Callable[[bytes], Any],
                 on_close: Optional[Callable[[], Any]] = ...) -> None: ...
    def stop(self) -> None: ...
    def wait(self, timeout: Optional[float] = ...) -> bool: ...
    @property
    def finished(self) -> bool: ...

class AsyncReader:
    def __init__(self, channel: Channel, loop: Any = ...) -> None: ...
    async def read(self, n: int = ...) -> bytes: ...
    async def readexactly(self, n: int) -> bytes: ...
    def __aiter__(self) -> AsyncIterator[bytes]: ...
    async def __anext__(self) -> bytes: ...
    def stop(self) -> None: ...
    async def __aenter__(self) -> "AsyncReader": ...
    async def __aexit__(self, *exc: Any) -> None: ...
