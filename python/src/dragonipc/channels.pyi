"""Type stubs for dragonipc.channels."""

__all__ = [
    'Channel',
    'Message',
    'ChannelSendH',
    'ChannelRecvH',
    'OwnershipOnSend',
    'copy_on_send',
    'transfer_ownership_on_send',
    'EventType',
    'PollResult',
    'WaitMode',
    'SPIN_WAIT',
    'IDLE_WAIT',
    'ADAPTIVE_WAIT',
    'DEFAULT_WAIT_MODE',
    'ChannelError',
    'ChannelValueError',
    'ChannelHandleNotOpenError',
    'ChannelDestroyed',
    'ChannelExistsError',
    'ChannelTimeout',
    'ChannelSendError',
    'ChannelSendTimeout',
    'ChannelFull',
    'ChannelRecvError',
    'ChannelRecvTimeout',
    'ChannelEmpty',
    'MessageAllocationError',
    'ChannelLimitError',
    'ChannelSet',
    'ChannelSetError',
    'ChannelSetTimeout',
    'ChannelBarrierReady',
    'ChannelBarrierBroken',
]

import enum
from typing import Any, Mapping, Optional, Tuple, Union

from . import _dragonipc
from .dtypes import (WaitMode as WaitMode, SPIN_WAIT as SPIN_WAIT, IDLE_WAIT as IDLE_WAIT,
                     ADAPTIVE_WAIT as ADAPTIVE_WAIT, DEFAULT_WAIT_MODE as DEFAULT_WAIT_MODE)
from .managed_memory import MemoryPool
from ._errors import (ChannelError as ChannelError, ChannelValueError as ChannelValueError,
                      ChannelHandleNotOpenError as ChannelHandleNotOpenError,
                      ChannelDestroyed as ChannelDestroyed,
                      ChannelExistsError as ChannelExistsError, ChannelTimeout as ChannelTimeout,
                      ChannelSendError as ChannelSendError,
                      ChannelSendTimeout as ChannelSendTimeout, ChannelFull as ChannelFull,
                      ChannelRecvError as ChannelRecvError,
                      ChannelRecvTimeout as ChannelRecvTimeout, ChannelEmpty as ChannelEmpty,
                      MessageAllocationError as MessageAllocationError,
                      ChannelLimitError as ChannelLimitError)

Message = _dragonipc.Message
ChannelSendH = _dragonipc.ChannelSendH
ChannelRecvH = _dragonipc.ChannelRecvH

class OwnershipOnSend(enum.IntEnum):
    copy_on_send = 0
    transfer_ownership_on_send = 1

copy_on_send: OwnershipOnSend
transfer_ownership_on_send: OwnershipOnSend

class EventType(enum.IntEnum):
    POLLNOTHING = 0
    POLLIN = 1
    POLLOUT = 2
    POLLINOUT = 3
    POLLEMPTY = 4
    POLLFULL = 5
    POLLSIZE = 6
    POLLRESET = 7
    POLLBARRIER_WAIT = 8
    POLLBARRIER = 8
    POLLBARRIER_ABORT = 9
    POLLBARRIER_RELEASE = 10
    POLLBARRIER_ISBROKEN = 11
    POLLBARRIER_WAITERS = 12
    POLLBLOCKED_RECEIVERS = 13

class PollResult:
    value: Optional[int]
    rc: Optional[int]
    def __init__(self, value: Optional[int] = ..., rc: Optional[int] = ...) -> None: ...

class Channel(_dragonipc.Channel):
    def __init__(self, mem_pool: MemoryPool, c_uid: int, block_size: Optional[int] = ...,
                 capacity: Optional[int] = ..., lock_type: Any = ..., fc_type: Any = ...,
                 flags: Any = ..., def_alloc_pool: Optional[MemoryPool] = ...,
                 max_spinners: Any = ..., max_event_bcasts: Any = ...) -> None: ...
    @staticmethod
    def create(mem_pool: MemoryPool, c_uid: int, attr: Union[None, Mapping[str, int], Any] = ...) -> "Channel": ...
    @classmethod
    def attach(cls, serialized_bytes: Union[bytes, bytearray, memoryview],
               mem_pool: Optional[MemoryPool] = ...) -> "Channel": ...
    def destroy(self) -> None: ...
    def detach(self, serialize: bool = ...) -> None: ...
    def sendh(self, return_mode: Any = ..., wait_mode: int = ...,
              timeout: Union[None, int, float] = ...) -> _dragonipc.ChannelSendH: ...
    def recvh(self, notification_type: Any = ..., signal: Any = ..., wait_mode: int = ...,
              timeout: Union[None, int, float] = ...) -> _dragonipc.ChannelRecvH: ...
    def poll(self, timeout: Union[None, int, float] = ..., wait_mode: int = ...,
             event_mask: int = ..., poll_result: Optional[PollResult] = ...) -> bool: ...
    def get_pool(self) -> MemoryPool: ...
    @property
    def default_alloc_pool(self) -> MemoryPool: ...
    @property
    def is_local(self) -> bool: ...
    @property
    def barrier_count(self) -> int: ...
    @property
    def broken_barrier(self) -> bool: ...
    @property
    def blocked_receivers(self) -> int: ...
    def __enter__(self) -> "Channel": ...
    def __exit__(self, *exc: Any) -> None: ...

# The channel as a barrier, and channel sets
import threading
from ._errors import DragonIPCError

class ChannelBarrierBroken(ChannelError, threading.BrokenBarrierError): ...
class ChannelBarrierReady(ChannelError): ...
class ChannelSetError(DragonIPCError): ...
class ChannelSetTimeout(ChannelSetError, TimeoutError): ...

class ChannelSet(_dragonipc.ChannelSetCore):
    channel_list: list
    event_mask: EventType
    def __init__(self, mem_pool: MemoryPool, channel_list: Any, lock_type: Any = ...,
                 num_allowed_spin_waiters: Optional[int] = ..., event_mask: int = ...,
                 capture_all_events: bool = ...) -> None: ...
    def poll(self, timeout: Union[None, int, float] = ...,
             wait_mode: int = ...) -> Tuple[Channel, EventType]: ...
