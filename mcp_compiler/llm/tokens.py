"""The token counting rule. The simulated endpoint reports usage with it (the same rule for both
wire formats), and the MCP sampling backend estimates with it, since hosts report no usage.

A token is a run of word characters (`\\w+`, Unicode-aware) or a single character that is neither
a word character nor whitespace. Whitespace is free. So `"Hello, world!"` is 4 tokens:
`Hello` `,` `world` `!`. Real tokenizers differ; this one is deterministic, dependency-free and
within a small factor of BPE counts for English and code, which is what latency and cost
comparisons need.

Input tokens of a request = tokens of the system prompt + tokens of every message's text
(no per-message overhead).
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+|[^\w\s]")
# One piece = leading whitespace + one token, or trailing whitespace alone. Pieces tile the text
# exactly, so chunks built from them reassemble to the original byte for byte.
_PIECE = re.compile(r"\s*(?:\w+|[^\w\s])|\s+")


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def token_pieces(text: str) -> list[str]:
    """`text` cut after every token; `"".join(token_pieces(t)) == t`."""
    return _PIECE.findall(text)


def chunk_text(text: str, tokens_per_chunk: int) -> list[tuple[str, int]]:
    """`text` in chunks of `tokens_per_chunk` tokens: `[(chunk, n_tokens), ...]`.

    Trailing whitespace joins the last chunk, so no chunk carries zero tokens.
    """
    size = max(1, tokens_per_chunk)
    chunks: list[tuple[str, int]] = []
    current, n = "", 0
    for piece in token_pieces(text):
        current += piece
        if not piece.isspace():
            n += 1
        if n >= size:
            chunks.append((current, n))
            current, n = "", 0
    if current:
        if chunks and n == 0:
            last, last_n = chunks[-1]
            chunks[-1] = (last + current, last_n)
        else:
            chunks.append((current, n))
    return chunks


def first_tokens(text: str, n: int) -> str:
    """The prefix of `text` holding its first `n` tokens (without the whitespace after them)."""
    kept, count = "", 0
    for piece in token_pieces(text):
        if count >= n:
            break
        if not piece.isspace():
            kept, count = kept + piece, count + 1
    return kept
