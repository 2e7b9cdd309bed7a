"""``python -m dfmask_lib`` is the ``dfmask`` command."""

from .cli import main

main()
