"""The code blocks of the Arthas HTTP API documents (spec/002, spec/003), read from the files.

The documents live beside the repository (``../shared/spec``, or ``$LIVESCOPE_SPEC_DIR``), so
tests that follow them read them at test time. A curl example is a ``bash`` block, or in
spec/003 a backquoted ``curl …`` followed by ``{{execute T3}}``, that runs ``curl``; the sample
responses are the non-bash blocks that follow.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = Path(os.environ.get("LIVESCOPE_SPEC_DIR", ROOT.parent / "shared" / "spec"))

FENCED = re.compile(r"^```(?P<lang>\w*)[ \t]*\n(?P<text>.*?)^```", re.M | re.S)
INLINE_CURL = re.compile(r"^`(?P<text>curl .*?)`\{\{execute[^}]*\}\}", re.M | re.S)


@dataclass(frozen=True)
class Block:
    offset: int
    line: int
    lang: str
    """``bash``, ``json``, ``""`` for a bare fence, ``inline`` for spec/003's executable span."""
    text: str

    @property
    def runs_curl(self) -> bool:
        return self.lang in ("bash", "inline") and "curl " in self.text

    def where(self, name: str) -> str:
        return f"{name} line {self.line}"


@dataclass(frozen=True)
class Document:
    name: str
    text: str
    blocks: tuple[Block, ...]

    def curl_examples(self) -> list[Block]:
        return [b for b in self.blocks if b.runs_curl]

    def shown_after(self, example: Block, marker: str | None = None) -> Block:
        """The sample after ``example`` (or after the first ``marker`` text that follows it)."""
        start = example.offset
        if marker is not None:
            start = self.text.index(marker, example.offset)
        for block in self.blocks:
            if block.offset > start and block.lang not in ("bash", "inline"):
                return block
        raise LookupError(f"no sample after {example.where(self.name)}")

    def bash_after(self, example: Block, containing: str) -> list[Block]:
        """The bash blocks after ``example``, up to the next curl example, that hold ``containing``."""
        later = [b for b in self.blocks if b.offset > example.offset]
        found = []
        for block in later:
            if block.runs_curl:
                break
            if block.lang == "bash" and containing in block.text:
                found.append(block)
        return found


def load_document(number: str) -> Document | None:
    """spec/``number``_*.txt, or None when the documents are not beside the repository."""
    paths = sorted(SPEC_DIR.glob(f"{number}_*.txt"))
    if not paths:
        return None
    text = paths[0].read_text(encoding="utf-8")
    blocks = [
        _block(text, m.start(), m.group("lang"), m.group("text")) for m in FENCED.finditer(text)
    ]
    blocks += [
        _block(text, m.start(), "inline", m.group("text")) for m in INLINE_CURL.finditer(text)
    ]
    return Document(paths[0].name, text, tuple(sorted(blocks, key=lambda b: b.offset)))


def _block(text: str, offset: int, lang: str, body: str) -> Block:
    return Block(offset, text.count("\n", 0, offset) + 1, lang, body)
