"""``python -m pmtheory``: the same as the ``pmtheory`` command."""

from pmtheory.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
