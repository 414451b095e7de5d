"""Instructor commands: python -m grading <command> (see README.md, "For instructors")."""
import argparse
import sys


def cmd_stubs(args):
    from grading.stubs import write_stubs
    changed = write_stubs()
    print("\n".join(f"regenerated {p}" for p in changed) or "stubs are up to date")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m grading", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("stubs", help="regenerate llmlab/<module>.py stubs from solutions/llmlab/").set_defaults(run=cmd_stubs)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
