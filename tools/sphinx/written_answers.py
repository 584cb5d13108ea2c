"""A Sphinx extension that marks, on the rendered page, where a written answer goes.

An exercise that asks *why* has a written answer: a text cell after the exercise (metadata
``"classroom": {"role": "answer"}``, see tools/classroom.py), tagged ``remove-cell``, because a
static page cannot hold the reader's answer. The notebook keeps it: the downloaded notebook and
the classroom's student edition show it, ready to be written in. Left out of the page entirely,
though, the cell leaves the reader of the page looking for "the text cell below". So here, as
each chapter is read, the blank cell is replaced by a short note, in a dashed box
(``.written-answer``, _static/reading.css), that says where the cell is. The notebook file is
not changed, and the download button still serves it as it is.
"""

import json

NOTE = ("*Written answer.* The notebook you download (the download button at the top of this "
        "page) has a text cell here for your answer.")
CELL = f"```{{container}} written-answer\n{NOTE}\n```"


def written_answer(cell):
    """Whether ``cell`` is a written answer's blank: a markdown answer cell of the classroom."""
    classroom = cell.get("metadata", {}).get("classroom", {})
    return cell.get("cell_type") == "markdown" and classroom.get("role") == "answer"


def mark_written_answers(text):
    """The notebook ``text`` (JSON) with each written answer's cell replaced by the note."""
    notebook = json.loads(text)
    changed = False
    for cell in notebook.get("cells", []):
        if written_answer(cell):
            cell["source"] = CELL
            tags = cell["metadata"].get("tags", [])
            cell["metadata"]["tags"] = [tag for tag in tags if tag != "remove-cell"]
            changed = True
    return json.dumps(notebook, ensure_ascii=False) if changed else text


def _source_read(app, docname, source):
    if str(app.env.doc2path(docname)).endswith(".ipynb"):
        source[0] = mark_written_answers(source[0])


def setup(app):
    app.connect("source-read", _source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
