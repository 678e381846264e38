"""Entry point of `python -m cli`."""

from cli.admin import main

raise SystemExit(main())
