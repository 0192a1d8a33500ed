"""The ``kernelkit`` command line: one module per subcommand, registered in ``COMMANDS``.

Each subcommand module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``, and optionally ``validate(args) -> str | None`` for checks that
involve several arguments (a returned message is reported like any argparse error);
adding a subcommand means adding one module and one table entry.
Modules are imported only when the parser is built, and heavy imports (plots, data)
happen inside ``run``.

Examples
--------
>>> from kernelkit.cli import COMMANDS, main
>>> "demo" in COMMANDS and "bench" in COMMANDS
True
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from ..exceptions import KernelkitError

__all__ = ["COMMANDS", "build_parser", "main"]

#: Subcommand name → module (relative to this package) implementing it.
COMMANDS: dict[str, str] = {
    "demo": ".demo",
    "bench": ".bench",
    "kde": ".kde",
    "test": ".ktest",
    "thin": ".thin",
    "fit": ".fit",
    "predict": ".predict",
}


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser with every registered subcommand."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="kernelkit",
        description="Scalable kernel methods on one fast, exact, memory-bounded engine.",
    )
    parser.add_argument("--version", action="version", version=f"kernelkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name, __name__)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run, _validate=getattr(module, "validate", None),
                       _parser=p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kernelkit`` command; returns the process exit code.

    Parameters
    ----------
    argv : sequence of str, default=None
        Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    code : int
        0 on success, 2 for bad arguments (with a message on stderr), 1 when the
        command itself fails with a kernelkit error.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
        problem = args._validate(args) if args._validate is not None else None
        if problem:
            args._parser.error(problem)
    except SystemExit as exc:  # argparse reports bad arguments (2) or --help (0)
        return exc.code if isinstance(exc.code, int) else 1
    try:
        return int(args._run(args))
    except KernelkitError as exc:
        from ._common import make_console

        make_console(stderr=True).print(f"[bold red]kernelkit {args.command}: error:[/] {exc}")
        return 1
    except KeyboardInterrupt:
        return 130
