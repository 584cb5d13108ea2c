"""A Sphinx extension that puts each line of highlighted code in an element of its own.

On a phone, a code line of up to 100 columns (tests/test_style.py) cannot show whole, and the book
wraps it (_static/code-width.css). A wrapped line should continue to the right of where it
started, not at the left margin, or its continuation reads as a new line of code that is not
indented. CSS can indent the continuation of a line only when the line is an element, so here each
line becomes an element (``line_html``) that knows its indentation. The stylesheet indents a
wrapped line's continuation 4 columns right of where its code starts, and on a narrow screen shows
no indentation wider than half the column, so that a deeply indented line keeps room for its
code. The spaces stay in the text, and the newline outside the spans, so copying the code copies
exactly the lines that were written.
"""

import re

from pygments.formatters.html import HtmlFormatter

_PIECE = re.compile(r"<[^>]*>|&[#\w]+;|.", re.S)   # a tag, an entity, or a character


def line_html(line):
    """The HTML ``line`` (Pygments' tokens, without its newline) as one element that CSS can
    indent: ``<span class="line" style="--indent: N">``, where N is the number of spaces the line
    starts with. Those spaces move into ``<span class="indent">``, glued to the first character of
    code (``<span class="start">``, which does not wrap), so that a line never wraps between its
    indentation and its code; the token that character belongs to is closed and reopened around
    it (Pygments puts the spaces in a token of their own, or in a string's)."""
    pieces = _PIECE.findall(line)
    spaces, opened, head = 0, [], []
    for index, piece in enumerate(pieces):
        if piece.startswith("</"):
            opened.pop()
        elif piece.startswith("<"):
            opened.append(piece)
        elif piece == " " and len(head) == index - spaces:
            spaces += 1
            continue
        else:                                   # the first character of code
            head.append(piece)
            close, reopen = "</span>" * len(opened), "".join(opened)
            start = (f'<span class="start"><span class="indent">{" " * spaces}</span>'
                     f'{"".join(head)}{close}</span>{reopen}')
            return (f'<span class="line" style="--indent: {spaces}">{start}'
                    f'{"".join(pieces[index + 1:])}</span>')
        head.append(piece)
    return f'<span class="line" style="--indent: 0">{line}</span>'   # blank, or spaces only


class LineFormatter(HtmlFormatter):
    """Pygments' HTML formatter, with each line of code wrapped in ``<span class="line">``."""

    def wrap(self, source):
        return super().wrap(self._lines(source))

    @staticmethod
    def _lines(source):
        for kind, line in source:
            if kind != 1 or not line.endswith("\n"):
                yield kind, line
                continue
            yield kind, line_html(line[:-1]) + "\n"


def _use_line_formatter(app):
    highlighter = getattr(app.builder, "highlighter", None)
    if highlighter is not None and getattr(highlighter, "dest", None) == "html":
        highlighter.formatter = LineFormatter


def setup(app):
    app.connect("builder-inited", _use_line_formatter)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
