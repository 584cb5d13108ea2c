"""A Sphinx extension that drops repeated inline scripts from each page.

With Sphinx 7.4, sphinx-thebe's configuration script (``const THEBE_JS_URL = ...``) is added to
every page twice, and the second copy is a JavaScript error in the browser's console ("Identifier
'THEBE_JS_URL' has already been declared"). Keeping the first copy of each script fixes it.
"""


def _unique_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # the copies differ only in an empty filename given as None or as ''
        key = (getattr(script, "filename", script) or "",
               getattr(script, "attributes", {}).get("body"))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _unique_scripts, priority=900)   # after the others
    return {"parallel_read_safe": True, "parallel_write_safe": True}
