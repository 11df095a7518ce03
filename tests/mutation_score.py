"""Mutation score per module from the last ``mutmut run`` (``make mutation`` prints it).

    python tests/mutation_score.py            # table of scores per module
    python tests/mutation_score.py --survivors   # and every surviving mutant's name

Score = killed / (killed + survived), where a timeout counts as killed (the mutant made
the tests run on far past their normal time) and mutants no selected test reaches count as
survived. Not a test module: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

_LINE = re.compile(r"^\s*(?P<name>[\w.]+?)\.x[_ǁ]\S*__mutmut_\d+: (?P<status>.+?)\s*$")
KILLED = {"killed", "timeout", "caught by type check"}


def results(mutmut: str) -> dict[str, Counter[str]]:
    """``{module: Counter(status)}`` from ``mutmut results --all true``."""
    out = subprocess.run(
        [mutmut, "results", "--all", "true"], capture_output=True, text=True, check=True
    ).stdout
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for line in out.splitlines():
        match = _LINE.match(line)
        if match:
            by_module[match["name"]][match["status"]] += 1
    return by_module


def survivors(mutmut: str) -> list[str]:
    out = subprocess.run([mutmut, "results"], capture_output=True, text=True, check=True).stdout
    return [line.split(":")[0].strip() for line in out.splitlines() if "__mutmut_" in line]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survivors", action="store_true", help="list surviving mutants")
    default = Path(sys.executable).with_name("mutmut")
    parser.add_argument("--mutmut", default=str(default), help="the mutmut executable")
    args = parser.parse_args()
    by_module = results(args.mutmut)
    if not by_module:
        print("no mutmut results: run 'make mutation' first", file=sys.stderr)
        return 1
    print("| module | mutants | killed | survived | no tests | not run | score |")
    print("|---|---|---|---|---|---|---|")
    total: Counter[str] = Counter()
    for module in sorted(by_module):
        counts = by_module[module]
        total += counts
        print(_row(module, counts))
    print(_row("**all**", total))
    if args.survivors:
        print("\nsurvivors:")
        for name in survivors(args.mutmut):
            print(" ", name)
    return 0


def _row(module: str, counts: Counter[str]) -> str:
    killed = sum(n for status, n in counts.items() if status in KILLED)
    survived = counts["survived"]
    no_tests = counts["no tests"]
    not_run = counts["not checked"] + counts["skipped"]
    tested = killed + survived + no_tests
    score = f"{100 * killed / tested:.1f} %" if tested else "-"
    return (
        f"| {module} | {sum(counts.values())} | {killed} | {survived} | {no_tests} | "
        f"{not_run} | {score} |"
    )


if __name__ == "__main__":
    sys.exit(main())
