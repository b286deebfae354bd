"""Type stubs for dragonipc.infrastructure.connection."""

__all__ = [
    'Connection',
    'ConnectionOptions',
    'PipeOptions',
    'Pipe',
    'CUID',
    'Address',
    'Listener',
    'Client',
    'ConnectionTimeout',
    'BufferTooShort',
    'GlobalServicesNotProvided',
]

import enum
import multiprocessing
import threading
from typing import Any, List, Optional, Tuple, Union

from ..channels import Channel, EventType
from ..managed_memory import MemoryPool

_Buffer = Union[bytes, bytearray, memoryview]
_Initializer = Union[Channel, bytes, bytearray, memoryview, None]
_Timeout = Union[int, float, None]


class ConnectionTimeout(ConnectionError, TimeoutError): ...
class BufferTooShort(multiprocessing.BufferTooShort, ConnectionError): ...
class GlobalServicesNotProvided(ConnectionError, NotImplementedError): ...


class ConnectionOptions:
    class CreationPolicy(enum.Enum):
        EXTERNALLY_MANAGED: int
        PRE_CREATED: int
        RECEIVER_CREATES: int
        SENDER_CREATES: int

    creation_policy: 'ConnectionOptions.CreationPolicy'
    min_block_size: Optional[int]
    large_block_size: Optional[int]
    huge_block_size: Optional[int]
    default_pool: Optional[MemoryPool]

    def __init__(self, *, creation_policy: 'ConnectionOptions.CreationPolicy' = ...,
                 min_block_size: Optional[int] = ..., large_block_size: Optional[int] = ...,
                 huge_block_size: Optional[int] = ...,
                 default_pool: Optional[MemoryPool] = ...) -> None: ...


class PipeOptions:
    class CreationPolicy(enum.Enum):
        EXTERNAL: int
        EARLY: int
        RECEIVER_CREATES: int
        SENDER_CREATES: int

    creation_policy: 'PipeOptions.CreationPolicy'
    conn_options: ConnectionOptions

    def __init__(self, *, creation_policy: 'PipeOptions.CreationPolicy' = ...,
                 conn_options: Optional[ConnectionOptions] = ...) -> None: ...


class CUID(int):
    conn: 'Connection'
    def thread_wait(self, timeout: _Timeout, done_ev: threading.Event,
                    ready: List[Any]) -> None: ...


class Connection:
    class State(enum.Enum):
        CLOSED: int
        ATTACHED: int
        READY: int
        UNBACKED: int
        UNATTACHED: int

    at_eof: bool
    ghost: bool
    options: ConnectionOptions
    policy: Any
    state: 'Connection.State'
    inbound_chan: Optional[Channel]
    outbound_chan: Optional[Channel]
    inbound_initializer: Optional[bytes]
    outbound_initializer: Optional[bytes]

    def __init__(self, *, inbound_initializer: _Initializer = ...,
                 outbound_initializer: _Initializer = ...,
                 options: Optional[ConnectionOptions] = ..., policy: Any = ...) -> None: ...
    def open(self) -> None: ...
    def send(self, obj: Any, *, timeout: _Timeout = ...) -> None: ...
    def send_bytes(self, buffer: _Buffer, offset: int = ..., size: Optional[int] = ..., *,
                   timeout: _Timeout = ...) -> None: ...
    def recv(self, *, timeout: _Timeout = ...) -> Any: ...
    def recv_bytes(self, maxlength: Optional[int] = ..., *,
                   timeout: _Timeout = ...) -> bytearray: ...
    def recv_bytes_into(self, buffer: Union[bytearray, memoryview], offset: int = ..., *,
                        timeout: _Timeout = ...) -> int: ...
    def poll(self, timeout: _Timeout = ..., event_mask: Union[EventType, int] = ...) -> bool: ...
    def thread_wait(self, timeout: _Timeout, done_ev: threading.Event,
                    ready: List[Any]) -> None: ...
    def close(self) -> None: ...
    def ghost_close(self) -> None: ...
    @property
    def inbound_channel(self) -> Optional[Channel]: ...
    @property
    def outbound_channel(self) -> Optional[Channel]: ...
    @property
    def closed(self) -> bool: ...
    @property
    def readable(self) -> bool: ...
    @property
    def writable(self) -> bool: ...
    def fileno(self) -> CUID: ...
    def __enter__(self) -> 'Connection': ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None: ...


def Pipe(duplex: bool = ..., *,
         channels: Union[Channel, bytes, Tuple[_Initializer, _Initializer], None] = ...,
         options: Optional[PipeOptions] = ...) -> Tuple[Connection, Connection]: ...


class Address:
    user_name: str
    salt: int
    def __init__(self, user_name: str = ...) -> None: ...
    @property
    def cname(self) -> str: ...


class Listener:
    def __init__(self, address: Any = ..., family: Any = ..., backlog: int = ...,
                 authkey: Any = ...) -> None: ...


def Client(address: Any = ..., family: Any = ..., authkey: Any = ...) -> None: ...
