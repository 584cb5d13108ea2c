"""A Sphinx extension that finds the book's GitHub repository, so each chapter gets a Colab button.

The theme's launch buttons ("open this notebook in Colab") need the URL of the public repository
that holds the notebooks, and a book that is cloned, forked and rebuilt does not have one fixed URL.
So it is looked up when the book is built, first found first:

1. the environment variable ``NNLIB_BOOK_REPOSITORY`` (``https://github.com/OWNER/REPO``), with
   ``NNLIB_BOOK_BRANCH`` for the branch;
2. ``repository.url`` in ``_config.yml``;
3. GitHub Actions' ``GITHUB_REPOSITORY`` and ``GITHUB_REF_NAME``, when the book is built there;
4. the ``origin`` remote of the clone the book is built from, when it is on github.com.

With none of these (a clone of a local copy, say) the pages have no Colab button, only the
download button; every chapter's first cell installs nnlib where it is missing, so a downloaded
chapter uploaded to Colab runs as well.
"""

import os
import re
import subprocess

COLAB = "https://colab.research.google.com"
_GITHUB = re.compile(r"^(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)"
                     r"(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+?)(?:\.git)?/?$")


def github_url(remote):
    """``https://github.com/OWNER/REPO`` for a GitHub remote (https or ssh form), else None."""
    match = _GITHUB.match(remote.strip())
    return match and f"https://github.com/{match['owner']}/{match['repo']}"


def _git(srcdir, *args):
    try:
        result = subprocess.run(["git", "-C", srcdir, *args],
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def find_repository(srcdir, configured="", environ=os.environ):
    """The URL of the book's GitHub repository, found as the module says; '' if there is none."""
    if environ.get("NNLIB_BOOK_REPOSITORY"):
        return environ["NNLIB_BOOK_REPOSITORY"].rstrip("/")
    if configured:
        return configured
    if environ.get("GITHUB_REPOSITORY"):
        server = environ.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{environ['GITHUB_REPOSITORY']}"
    return github_url(_git(srcdir, "remote", "get-url", "origin")) or ""


def find_branch(srcdir, environ=os.environ):
    """The branch the links point into: as set in the environment, else the clone's, else main."""
    branch = (environ.get("NNLIB_BOOK_BRANCH") or environ.get("GITHUB_REF_NAME")
              or _git(srcdir, "rev-parse", "--abbrev-ref", "HEAD"))
    return branch if branch and branch != "HEAD" else "main"


def _set_repository(app, config):
    options = dict(config.html_theme_options)
    url = find_repository(app.srcdir, options.get("repository_url", ""))
    if not url:
        return
    options["repository_url"] = url
    options["use_repository_button"] = True
    options["repository_branch"] = options.get("repository_branch") or find_branch(app.srcdir)
    # set only here: with a Colab URL but no repository, the theme's launch buttons fail the build
    options["launch_buttons"] = {**options.get("launch_buttons", {}), "colab_url": COLAB}
    config.html_theme_options = options


def setup(app):
    app.connect("config-inited", _set_repository)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
