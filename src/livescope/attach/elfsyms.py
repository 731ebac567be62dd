"""Addresses of exported functions in another process, read from its mapped ELF files.

The ptrace injector needs ``dlopen`` (and, for ``--unsafe``, a few CPython API functions) at
their addresses in the target. They come from each file's dynamic symbol table plus the load
bias seen in ``/proc/PID/maps``; nothing is asked of the target itself.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

PT_LOAD = 1
SHT_DYNSYM = 11
STT_FUNC = 2
STT_GNU_IFUNC = 10


@dataclass(frozen=True)
class Mapping:
    start: int
    end: int
    perms: str
    offset: int
    path: str


def read_maps(pid: int) -> list[Mapping]:
    """The memory mappings of ``pid`` (only the file-backed ones matter here)."""
    mappings = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(None, 5)
        start, end = (int(x, 16) for x in parts[0].split("-"))
        path = parts[5] if len(parts) > 5 else ""
        mappings.append(Mapping(start, end, parts[1], int(parts[2], 16), path))
    return mappings


def dynamic_functions(path: Path) -> tuple[dict[str, int], int]:
    """``({name: address before relocation}, first PT_LOAD vaddr)`` of an ELF64 little-endian file."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path} is not a 64-bit little-endian ELF file")
    (phoff, shoff) = struct.unpack_from("<QQ", data, 0x20)
    (phentsize, phnum, shentsize, shnum) = struct.unpack_from("<HHHH", data, 0x36)
    first_load = min(
        struct.unpack_from("<Q", data, phoff + i * phentsize + 16)[0]
        for i in range(phnum)
        if struct.unpack_from("<I", data, phoff + i * phentsize)[0] == PT_LOAD
    )
    functions: dict[str, int] = {}
    for i in range(shnum):
        header = shoff + i * shentsize
        sh_type, sh_offset, sh_size, sh_link, sh_entsize = (
            struct.unpack_from("<I", data, header + 4)[0],
            *struct.unpack_from("<QQI", data, header + 24),
            struct.unpack_from("<Q", data, header + 56)[0],
        )
        if sh_type != SHT_DYNSYM or not sh_entsize:
            continue
        strtab = shoff + sh_link * shentsize
        str_offset = struct.unpack_from("<Q", data, strtab + 24)[0]
        for entry in range(sh_offset, sh_offset + sh_size, sh_entsize):
            name_at, info, _, shndx, value = struct.unpack_from("<IBBHQ", data, entry)
            if shndx == 0 or not value or (info & 0xF) not in (STT_FUNC, STT_GNU_IFUNC):
                continue
            end = data.index(b"\0", str_offset + name_at)
            functions.setdefault(data[str_offset + name_at : end].decode(), value)
    return functions, first_load


def find_function(
    pid: int, mappings: list[Mapping], name: str, library: str = r""
) -> tuple[int, str] | None:
    """``(address, file)`` of function ``name`` in the first mapped file matching ``library``."""
    pattern = re.compile(library)
    seen: set[str] = set()
    for mapping in mappings:
        path = mapping.path
        if not path.startswith("/") or path in seen or not pattern.search(path):
            continue
        seen.add(path)
        try:
            # through the target's root, so a process in a container is read correctly
            functions, first_load = dynamic_functions(Path(f"/proc/{pid}/root{path}"))
        except (OSError, ValueError, struct.error):
            continue
        if name not in functions:
            continue
        base = min(m.start - m.offset for m in mappings if m.path == path)
        return base - (first_load & ~0xFFF) + functions[name], path
    return None
