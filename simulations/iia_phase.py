"""Where RLPO's population reward favours M2, against the paper's p*(1) < F(P_ref(M1))
(seed 002, Props 4-5): the population gap on a grid, its sign against the exact sign of
F − p in rationals, and the pairwise conversion of §7 on the same grid.

    python simulations/iia_phase.py --sizes 3 4 5 8 --grid 40
"""

from __future__ import annotations

import math
import sys
from fractions import Fraction

from _cli import integer_at_least, parse_args, run, simulation_parser, write_results  # simulations/_cli.py

from pmtheory import iia


def main(argv: list[str] | None = None) -> dict:
    parser = simulation_parser(__doc__, seeds=False)
    parser.add_argument("--sizes", type=integer_at_least(2), nargs="+", default=[3, 4, 5, 8])
    parser.add_argument("--grid", type=integer_at_least(2), default=40, help="grid denominator for P_ref(M1) and p*(1)")
    args = parse_args(parser, argv)
    output = {}
    for n in args.sizes:
        mismatches, pairwise_mismatches, cases = 0, 0, 0
        for i in range(1, args.grid):
            zeta = Fraction(i, args.grid)
            for j in range(1, args.grid):
                p = Fraction(j, args.grid)
                exact = iia.exact_reward_gap_sign(n, zeta, p)
                gap = iia.population_reward_gap(n, float(zeta), float(p))
                pairwise = iia.population_pairwise_reward_gap(n, float(zeta), float(p))
                cases += 1
                if exact != 0:
                    mismatches += int(math.copysign(1, gap) != exact)
                    pairwise_mismatches += int(math.copysign(1, pairwise) != exact)
        output[n] = {"cases": cases, "sign_mismatches_vs_F": mismatches,
                     "pairwise_sign_mismatches_vs_F": pairwise_mismatches,
                     "F(0.8)": iia.failure_threshold(n, 0.8)}
        print(f"|Y|={n}: {cases} grid points, gap-sign mismatches with F: {mismatches}, "
              f"pairwise conversion mismatches: {pairwise_mismatches}, F(0.8) = {output[n]['F(0.8)']:.4f}")
    return write_results(output, args.json)


if __name__ == "__main__":
    sys.exit(run(main))
