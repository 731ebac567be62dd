"""Addresses of exported functions in another process, read from its mapped ELF files.

The ptrace injector needs ``dlopen`` (and, for ``--unsafe``, a few CPython API functions) at
their addresses in the target. They come from each file's dynamic symbol table plus the load
bias seen in ``/proc/PID/maps``; nothing is asked of the target itself.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
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
    inode: int = 0


def read_maps(pid: int) -> list[Mapping]:
    """The memory mappings of ``pid`` (only the file-backed ones matter here)."""
    mappings = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(None, 5)
        start, end = (int(x, 16) for x in parts[0].split("-"))
        path = parts[5] if len(parts) > 5 else ""
        mappings.append(Mapping(start, end, parts[1], int(parts[2], 16), path, int(parts[4])))
    return mappings


def mapped_file(pid: int, mapping: Mapping) -> Path | None:
    """A path of ours to the file behind ``mapping``. ``maps`` names it relative to our root
    (a chroot's files under the chroot's directory) or, in a mount namespace we are not in (a
    container), relative to that namespace's root: the inode says which reading is right."""
    for candidate in (Path(mapping.path), Path(f"/proc/{pid}/root{mapping.path}")):
        try:
            if candidate.stat().st_ino == mapping.inode:
                return candidate
        except OSError:
            continue
    return None


def _elf(path: Path) -> tuple[bytes, int, list[tuple[int, ...]]]:
    """The file's bytes, first PT_LOAD vaddr and section headers ``(name, type, addr, offset,
    size, link, entsize)`` of an ELF64 little-endian file."""
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
    headers = [
        struct.unpack_from("<II8xQQQI4x8xQ", data, shoff + i * shentsize) for i in range(shnum)
    ]
    return data, first_load, headers


def dynamic_functions(path: Path) -> tuple[dict[str, int], int]:
    """``({name: address before relocation}, first PT_LOAD vaddr)`` of an ELF64 little-endian file."""
    data, first_load, headers = _elf(path)
    functions: dict[str, int] = {}
    for _, sh_type, _, sh_offset, sh_size, sh_link, sh_entsize in headers:
        if sh_type != SHT_DYNSYM or not sh_entsize:
            continue
        str_offset = headers[sh_link][3]
        for entry in range(sh_offset, sh_offset + sh_size, sh_entsize):
            name_at, info, _, shndx, value = struct.unpack_from("<IBBHQ", data, entry)
            if shndx == 0 or not value or (info & 0xF) not in (STT_FUNC, STT_GNU_IFUNC):
                continue
            end = data.index(b"\0", str_offset + name_at)
            functions.setdefault(data[str_offset + name_at : end].decode(), value)
    return functions, first_load


def sections(path: Path) -> tuple[dict[str, int], int]:
    """``({section name: address before relocation}, first PT_LOAD vaddr)`` of an ELF64 file."""
    data, first_load, headers = _elf(path)
    names_at = headers[struct.unpack_from("<H", data, 0x3E)[0]][3]
    found = {}
    for name_at, _, sh_addr, *_ in headers:
        end = data.index(b"\0", names_at + name_at)
        found[data[names_at + name_at : end].decode()] = sh_addr
    return found, first_load


def _locate(
    pid: int,
    mappings: list[Mapping],
    name: str,
    library: str,
    table: Callable[[Path], tuple[dict[str, int], int]],
) -> tuple[int, str] | None:
    """``(address, file)`` of ``name`` in ``table`` of the first mapped file matching ``library``."""
    pattern = re.compile(library)
    seen: set[str] = set()
    for mapping in mappings:
        path = mapping.path
        if not path.startswith("/") or path in seen or not pattern.search(path):
            continue
        seen.add(path)
        local = mapped_file(pid, mapping)
        if local is None:
            continue
        try:
            addresses, first_load = table(local)
        except (OSError, ValueError, IndexError, struct.error):
            continue
        if name not in addresses:
            continue
        base = min(m.start - m.offset for m in mappings if m.path == path)
        return base - (first_load & ~0xFFF) + addresses[name], path
    return None


def find_function(
    pid: int, mappings: list[Mapping], name: str, library: str = r""
) -> tuple[int, str] | None:
    """``(address, file)`` of function ``name`` in the first mapped file matching ``library``."""
    return _locate(pid, mappings, name, library, dynamic_functions)


def find_section(
    pid: int, mappings: list[Mapping], name: str, library: str = r""
) -> tuple[int, str] | None:
    """``(address, file)`` of section ``name`` in the first mapped file matching ``library``."""
    return _locate(pid, mappings, name, library, sections)
