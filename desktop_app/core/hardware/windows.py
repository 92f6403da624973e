"""Windows probes, through kernel32 via ctypes."""

from __future__ import annotations

import ctypes
import struct

# LOGICAL_PROCESSOR_RELATIONSHIP.RelationProcessorCore (winnt.h).
_RELATION_PROCESSOR_CORE = 0


def _windows_physical_cores() -> int | None:
    """Physical cores across all processor groups, via GetLogicalProcessorInformationEx."""
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    query = kernel32.GetLogicalProcessorInformationEx
    query.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]
    query.restype = ctypes.c_int
    length = ctypes.c_uint32(0)
    query(_RELATION_PROCESSOR_CORE, None, ctypes.byref(length))  # asks for the buffer size
    if not length.value:
        return None
    buffer = ctypes.create_string_buffer(length.value)
    if not query(_RELATION_PROCESSOR_CORE, buffer, ctypes.byref(length)):
        return None
    return _count_processor_cores(buffer.raw[: length.value]) or None


def _count_processor_cores(records: bytes) -> int:
    """Count RelationProcessorCore entries in a SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX list.

    Entries vary in size; each starts with DWORD Relationship, DWORD Size.
    """
    count = 0
    offset = 0
    while offset + 8 <= len(records):
        relationship, size = struct.unpack_from("<II", records, offset)
        if size < 8:
            break
        if relationship == _RELATION_PROCESSOR_CORE:
            count += 1
        offset += size
    return count


class _MemoryStatusEx(ctypes.Structure):
    """MEMORYSTATUSEX (sysinfoapi.h)."""

    _fields_ = [
        ("dwLength", ctypes.c_uint32),
        ("dwMemoryLoad", ctypes.c_uint32),
        ("ullTotalPhys", ctypes.c_uint64),
        ("ullAvailPhys", ctypes.c_uint64),
        ("ullTotalPageFile", ctypes.c_uint64),
        ("ullAvailPageFile", ctypes.c_uint64),
        ("ullTotalVirtual", ctypes.c_uint64),
        ("ullAvailVirtual", ctypes.c_uint64),
        ("ullAvailExtendedVirtual", ctypes.c_uint64),
    ]


def _windows_memory() -> tuple[int, int] | None:
    """GlobalMemoryStatusEx: physical total and available (standby cache counts as available)."""
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    status = _MemoryStatusEx()
    status.dwLength = ctypes.sizeof(_MemoryStatusEx)
    if not kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
        return None
    return int(status.ullTotalPhys), int(status.ullAvailPhys)
