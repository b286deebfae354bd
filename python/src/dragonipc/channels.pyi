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
    'LockType', 'FIFO', 'LITE', 'GREEDY',
    'FlowControl', 'NO_FLOW_CONTROL', 'RESOURCES_FLOW_CONTROL', 'MEMORY_FLOW_CONTROL',
    'MSGS_FLOW_CONTROL',
    'ChannelFlags', 'NO_FLAGS', 'MASQUERADE_AS_REMOTE',
    'POLLNOTHING', 'POLLIN', 'POLLOUT', 'POLLINOUT', 'POLLEMPTY', 'POLLFULL', 'POLLSIZE',
    'POLLBLOCKED_RECEIVERS', 'SEMAPHORE_P', 'SEMAPHORE_V', 'SEMAPHORE_VZ', 'SEMAPHORE_PEEK',
    'POLLRESET', 'POLLBARRIER', 'POLLBARRIER_WAIT', 'POLLBARRIER_ABORT', 'POLLBARRIER_RELEASE',
    'POLLBARRIER_ISBROKEN', 'POLLBARRIER_WAITERS',
    'ChannelAdapterMsgTypes', 'EOT', 'PICKLE_PROT_5', 'RAW_BYTES',
    'ChannelOverflowError', 'ChannelRemoteOperationNotSupported',
    'Peer2PeerWritingChannelFile', 'Peer2PeerReadingChannelFile',
    'Many2ManyWritingChannelFile', 'Many2ManyReadingChannelFile',
    'GatewayMessage', 'register_gateways_from_env', 'discard_gateways',
    'BUF_READ', 'BUF_WRITE', 'MINIMUM_BLOCK_SIZE', 'HandlePickleError',
    'ChannelSet',
    'ChannelSetError',
    'ChannelSetTimeout',
    'ChannelBarrierReady',
    'ChannelBarrierBroken',
]

import enum
from typing import Any, Dict, Mapping, Optional, Tuple, Union

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
                      ChannelLimitError as ChannelLimitError,
                      ChannelOverflowError as ChannelOverflowError,
                      ChannelRemoteOperationNotSupported as ChannelRemoteOperationNotSupported)

Message = _dragonipc.Message
ChannelSendH = _dragonipc.ChannelSendH
ChannelRecvH = _dragonipc.ChannelRecvH

class OwnershipOnSend(enum.IntEnum):
    copy_on_send = 0
    transfer_ownership_on_send = 1

copy_on_send: OwnershipOnSend
transfer_ownership_on_send: OwnershipOnSend

HandlePickleError: type
BUF_READ: int
BUF_WRITE: int
MINIMUM_BLOCK_SIZE: int

class LockType(enum.IntEnum):
    FIFO = 0
    LITE = 1
    GREEDY = 2

FIFO: LockType
LITE: LockType
GREEDY: LockType

class FlowControl(enum.IntEnum):
    NO_FLOW_CONTROL = 0
    RESOURCES_FLOW_CONTROL = 1
    MEMORY_FLOW_CONTROL = 2
    MSGS_FLOW_CONTROL = 3

NO_FLOW_CONTROL: FlowControl
RESOURCES_FLOW_CONTROL: FlowControl
MEMORY_FLOW_CONTROL: FlowControl
MSGS_FLOW_CONTROL: FlowControl

class ChannelFlags(enum.IntEnum):
    NO_FLAGS = 0
    MASQUERADE_AS_REMOTE = 1

NO_FLAGS: ChannelFlags
MASQUERADE_AS_REMOTE: ChannelFlags

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
    SEMAPHORE_P = 14
    SEMAPHORE_V = 15
    SEMAPHORE_VZ = 16
    SEMAPHORE_PEEK = 17

POLLNOTHING: EventType
POLLIN: EventType
POLLOUT: EventType
POLLINOUT: EventType
POLLEMPTY: EventType
POLLFULL: EventType
POLLSIZE: EventType
POLLBLOCKED_RECEIVERS: EventType
POLLRESET: EventType
POLLBARRIER: EventType
POLLBARRIER_WAIT: EventType
POLLBARRIER_ABORT: EventType
POLLBARRIER_RELEASE: EventType
POLLBARRIER_ISBROKEN: EventType
POLLBARRIER_WAITERS: EventType
SEMAPHORE_P: EventType
SEMAPHORE_V: EventType
SEMAPHORE_VZ: EventType
SEMAPHORE_PEEK: EventType

class ChannelAdapterMsgTypes(enum.IntEnum):
    EOT = 0
    PICKLE_PROT_5 = 1
    RAW_BYTES = 2

EOT: ChannelAdapterMsgTypes
PICKLE_PROT_5: ChannelAdapterMsgTypes
RAW_BYTES: ChannelAdapterMsgTypes

class PollResult:
    value: Optional[int]
    rc: Optional[int]
    def __init__(self, value: Optional[int] = ..., rc: Optional[int] = ...) -> None: ...

_Timeout = Union[None, int, float]
_Bytes = Union[bytes, bytearray, memoryview]

class Channel(_dragonipc.Channel):
    def __init__(self, mem_pool: MemoryPool, c_uid: int, block_size: Optional[int] = ...,
                 capacity: Optional[int] = ..., lock_type: Optional[LockType] = ...,
                 fc_type: Optional[FlowControl] = ..., flags: Optional[int] = ...,
                 def_alloc_pool: Optional[MemoryPool] = ..., max_spinners: Optional[int] = ...,
                 max_event_bcasts: Optional[int] = ..., semaphore: bool = ...,
                 bounded_semaphore: bool = ..., initial_sem_value: int = ...) -> None: ...
    @classmethod
    def serialized_uid(cls, ch_ser: _Bytes) -> int: ...
    @classmethod
    def serialized_uid_type(cls, ch_ser: _Bytes) -> Tuple[int, int]: ...
    @classmethod
    def serialized_pool_uid_fname(cls, ch_ser: _Bytes) -> Tuple[int, Optional[str]]: ...
    @staticmethod
    def create(mem_pool: MemoryPool, c_uid: int, attr: Union[None, Mapping[str, int], Any] = ...) -> "Channel": ...
    @classmethod
    def attach(cls, serialized_bytes: _Bytes, mem_pool: Optional[MemoryPool] = ...) -> "Channel": ...
    @classmethod
    def make_process_local(cls, pool: Optional[MemoryPool] = ..., block_size: Optional[int] = ...,
                           capacity: Optional[int] = ..., timeout: _Timeout = ...) -> "Channel": ...
    def destroy_process_local(self, timeout: _Timeout = ...) -> None: ...
    def destroy(self) -> None: ...
    def detach(self, serialize: bool = ...) -> None: ...
    def sendh(self, return_mode: int = ..., wait_mode: int = ...,
              timeout: _Timeout = ...) -> _dragonipc.ChannelSendH: ...
    def recvh(self, notification_type: int = ..., signal: Optional[int] = ..., wait_mode: int = ...,
              timeout: _Timeout = ...) -> _dragonipc.ChannelRecvH: ...
    def poll(self, timeout: _Timeout = ..., wait_mode: int = ...,
             event_mask: int = ..., poll_result: Optional[PollResult] = ...) -> bool: ...
    def get_pool(self) -> MemoryPool: ...
    @property
    def default_alloc_pool(self) -> MemoryPool: ...
    @property
    def is_local(self) -> bool: ...
    @property
    def lock_type(self) -> LockType: ...
    @property
    def fc_type(self) -> FlowControl: ...
    def __enter__(self) -> "Channel": ...
    def __exit__(self, *exc: Any) -> None: ...

def register_gateways_from_env() -> None: ...
def discard_gateways() -> None: ...

class GatewayMessage:
    @staticmethod
    def from_message(msg: Any) -> "GatewayMessage": ...
    @staticmethod
    def silence_transport_timeouts() -> None: ...

class Peer2PeerWritingChannelFile:
    def __init__(self, channel: Channel, *, options: Optional[Dict[str, Any]] = ...,
                 timeout: _Timeout = ..., wait_mode: int = ..., return_mode: int = ...) -> None: ...
    def open(self) -> None: ...
    def write(self, buf: Any) -> int: ...
    def write_raw_header(self, msglen: int) -> None: ...
    def write_eot(self) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Peer2PeerWritingChannelFile": ...
    def __exit__(self, *exc: Any) -> None: ...

class Peer2PeerReadingChannelFile:
    def __init__(self, channel: Channel, *, options: Any = ..., wait_mode: int = ...) -> None: ...
    def open(self) -> None: ...
    def set_side_buf(self, buf: bytearray) -> None: ...
    def check_header(self) -> Tuple[ChannelAdapterMsgTypes, Optional[int]]: ...
    def advance_raw_header(self, msglen: int) -> None: ...
    def read(self, size: int = ...) -> bytearray: ...
    def readinto(self, buf: Any, accumulate_sb: bool = ...) -> int: ...
    def readline(self) -> bytes: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Peer2PeerReadingChannelFile": ...
    def __exit__(self, *exc: Any) -> None: ...

class Many2ManyWritingChannelFile:
    def __init__(self, channel: Channel, buffer_pool: Optional[MemoryPool] = ...,
                 wait_mode: int = ..., return_mode: int = ...) -> None: ...
    def set_adapter_timeout(self, blocking: bool = ..., timeout: _Timeout = ...) -> None: ...
    def open(self) -> None: ...
    def write(self, buf: Any) -> int: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Many2ManyWritingChannelFile": ...
    def __exit__(self, *exc: Any) -> None: ...

class Many2ManyReadingChannelFile:
    def __init__(self, channel: Channel, wait_mode: int = ...) -> None: ...
    def set_adapter_timeout(self, blocking: bool = ..., timeout: Any = ...) -> None: ...
    def open(self) -> None: ...
    def read(self, size: int = ...) -> bytearray: ...
    def readinto(self, buf: Any) -> int: ...
    def get_remaining_data(self) -> Tuple[bytes, int]: ...
    def readline(self) -> bytes: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Many2ManyReadingChannelFile": ...
    def __exit__(self, *exc: Any) -> None: ...
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
