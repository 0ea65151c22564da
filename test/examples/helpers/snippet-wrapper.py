# Runs a documented Python snippet (test/examples/helpers/snippets.ts): print() writes one JSON line per call
# to stdout, so the test reads exactly the values the snippet printed; an uncaught exception goes to stderr
# as usual and the exit status is 1.
import builtins
import json
import runpy
import sys


def _print(*args, **kwargs):
    sys.stdout.write(json.dumps({"@snippet": "print", "args": list(args)}, default=repr) + "\n")
    sys.stdout.flush()


builtins.print = _print
runpy.run_path(sys.argv[1], run_name="__main__")
