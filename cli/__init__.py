"""The ``hdr-expr`` command line: a thin Typer layer over the library."""
