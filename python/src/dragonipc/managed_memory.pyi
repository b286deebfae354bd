"""Type stubs for dragonipc.managed_memory."""

__all__ = [
    'MemoryPool',
    'default_pool',
    'set_default_pool',
    'unlink',
    'POOL_MIN_SIZE',
    'NAME_MAX',
    'DragonMemoryError',
    'DragonPoolError',
    'DragonPoolValueError',
    'DragonPoolCreateFail',
    'DragonPoolAttachFail',
    'DragonPoolDetachFail',
    'DragonPoolAllocationNotAvailable',
    'DragonPoolCreateLimit',
    'DragonPoolAttachLimit',
]

from typing import Any, List, Optional, Union

from . import _dragonipc
from ._errors import (DragonMemoryError as DragonMemoryError, DragonPoolError as DragonPoolError,
                      DragonPoolValueError as DragonPoolValueError,
                      DragonPoolCreateFail as DragonPoolCreateFail,
                      DragonPoolAttachFail as DragonPoolAttachFail,
                      DragonPoolDetachFail as DragonPoolDetachFail,
                      DragonPoolAllocationNotAvailable as DragonPoolAllocationNotAvailable,
                      DragonPoolCreateLimit as DragonPoolCreateLimit,
                      DragonPoolAttachLimit as DragonPoolAttachLimit)

POOL_MIN_SIZE: int
NAME_MAX: int

class MemoryPool(_dragonipc.Pool):
    muid: int
    def __init__(self, size: int, name: str, uid: int, pre_alloc_blocks: Optional[List[int]] = ...,
                 *, mode: int = ..., **dragon_options: Any) -> None: ...
    @classmethod
    def attach(cls, pool_ser: Union[bytes, bytearray, memoryview], *,
               existing_memory_pool: Optional["MemoryPool"] = ...) -> "MemoryPool": ...
    @classmethod
    def attach_name(cls, name: str, *, shared: bool = ...) -> "MemoryPool": ...
    @classmethod
    def empty_pool(cls) -> "MemoryPool": ...
    def detach(self, serialize: bool = ...) -> None: ...
    def alloc_message(self, nbytes: int, timeout: Union[None, int, float] = ...) -> Any: ...
    def __enter__(self) -> "MemoryPool": ...
    def __exit__(self, *exc: Any) -> None: ...
    @property
    def name(self) -> Optional[str]: ...
    @property
    def size(self) -> int: ...
    @property
    def free_space(self) -> int: ...
    @property
    def largest_free(self) -> int: ...
    @property
    def num_allocs(self) -> int: ...
    @property
    def num_channels(self) -> int: ...
    @property
    def utilization(self) -> float: ...
    @property
    def is_local(self) -> bool: ...

def default_pool() -> MemoryPool: ...
def set_default_pool(pool: Optional[MemoryPool]) -> None: ...
def unlink(name: str) -> None: ...
