"""Counterparts of Dragon's ``dragon.infrastructure`` modules.

Only ``connection`` is provided: Dragon's Connection and Pipe over
channels.  The rest of Dragon's infrastructure package (global services,
parameters, messages, facts) belongs to its runtime, which this library
does not have.
"""

__all__ = ["connection"]
