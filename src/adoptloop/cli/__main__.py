"""`python -m adoptloop.cli ...`, the same as the `adoptloop` command."""

from adoptloop.cli.app import main

main()
