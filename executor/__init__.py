"""Stage 1 of the build, independent of MkDocs: run the chapters into executed notebooks.

`chapters` turns a chapter (a jupytext `.py` file) into a plain executed notebook, cached
under a key of everything its outputs depend on; `kernel_forks` starts its kernel warm.
hooks/execute.py drives them from MkDocs; another renderer would drive them the same way.
"""
