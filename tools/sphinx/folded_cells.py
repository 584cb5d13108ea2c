"""A Sphinx extension that names the toggle of a folded code cell by what it says.

A code cell tagged ``hide-input`` shows as a folded block whose toggle reads "Show code cell
source" (or "Hide code cell source" once open). MyST-NB labels that toggle "Toggle hidden content"
besides, and a label that leaves out the visible words fails axe-core's rule
"label-content-name-mismatch" (speech control, for one, goes by the visible words). Here the
toggle is written as MyST-NB writes it, without that label: its name is the text it shows.
"""

from html import escape

from myst_nb.sphinx_ import HideCodeCellNode


def visit_folded_cell(self, node):
    classes = " ".join(node["classes"])
    self.body.append(f'<details class="admonition hide {classes}">\n<summary>\n')
    self.body.append(f'<p class="collapsed admonition-title">{escape(node["prompt_show"])}</p>\n')
    self.body.append(f'<p class="expanded admonition-title">{escape(node["prompt_hide"])}</p>\n')
    self.body.append("</summary>\n")


def depart_folded_cell(self, node):
    self.body.append("</details>\n")


def setup(app):
    app.setup_extension("myst_nb")
    app.add_node(HideCodeCellNode, override=True, html=(visit_folded_cell, depart_folded_cell))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
