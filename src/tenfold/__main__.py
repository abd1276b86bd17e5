"""``python -m tenfold`` (and ``accelerate launch -m tenfold ...``) runs the CLI."""

from tenfold.cli import main

main()
