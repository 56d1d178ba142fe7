"""Free text written into Markdown as the text it is, never as markup.

CommonMark makes any ASCII punctuation literal behind a backslash, so only the
characters that could start markup where the text lands get one: the rest of
the line reads as typed (a hand-written README escapes the same way).
"""

from __future__ import annotations

import re

# Markup anywhere in a line: code spans, emphasis, links and images, raw HTML
# and autolinks, GFM strikethrough (a table needs a second line). `_` only
# where it can emphasise (not inside a word), `&` only where it starts an
# entity, `#` only where it can open or close a heading.
INLINE = re.compile(
    r"[`*\[\]<>~]"
    r"|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])"
    r"|&(?=#?[A-Za-z0-9]+;)"
    r"|(?:^|(?<= ))#"
)
# Markup at the start of a line: lists, thematic breaks, setext underlines.
LINE_START = re.compile(r"^(?:[+=-](?=[ +=-]|$)|\d{1,9}(?=[.)](?: |$)))")


def markdown_text(text: str) -> str:
    """Jinja filter: `text` escaped for a Markdown line or heading."""
    escaped = INLINE.sub(lambda match: "\\" + match.group(), text)
    start = LINE_START.match(escaped)
    if start is None:
        return escaped
    if start.group().isdigit():  # "1." or "1)" starts an ordered list
        end = start.end()
        return escaped[:end] + "\\" + escaped[end:]
    return "\\" + escaped


def markdown_code(text: str) -> str:
    """Jinja filter: `text` as one code span, whatever backticks it holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"
