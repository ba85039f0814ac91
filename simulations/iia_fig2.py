"""RLPO and DPO on dichotomy data: P(M1) against |D| for several |Y| (seed 002, §5.4, Fig 2).

Thin wrapper over :func:`pmtheory.iia.simulate_rlpo_dpo` and :func:`pmtheory.iia.reward_gap_sign_law`.

    python simulations/iia_fig2.py --sizes 2 3 4 5 --max-data 5000 --seeds 100 [--json out.json]
"""

from __future__ import annotations

import sys

import numpy as np
from _cli import (  # simulations/_cli.py
    integer_at_least,
    parse_args,
    positive_number,
    run,
    simulation_parser,
    write_results,
)

from pmtheory import iia
from pmtheory.iia.data import mean_interval


def main(argv: list[str] | None = None) -> dict:
    parser = simulation_parser(__doc__, setup=True)
    parser.add_argument("--sizes", type=integer_at_least(2), nargs="+", default=[2, 3, 4, 5],
                        help="choice-set sizes |Y|")
    parser.add_argument("--max-data", type=integer_at_least(1), default=5000, help="largest |D|")
    parser.add_argument("--points", type=integer_at_least(1), default=15, help="|D| values (log-spaced)")
    parser.add_argument("--beta", type=positive_number, default=1.0)
    args = parse_args(parser, argv)
    data_sizes = np.unique(np.round(np.logspace(0, np.log10(args.max_data), args.points)).astype(np.int64))
    results = {}
    for n in args.sizes:
        sim = iia.simulate_rlpo_dpo(choice_set_size=n, data_sizes=data_sizes, num_seeds=args.seeds,
                                    seed=args.seed + n, p_ref_m1=args.p_ref_m1, p_star_1=args.p_star_1,
                                    beta=args.beta)
        law = iia.reward_gap_sign_law(n, args.p_ref_m1, args.p_star_1, int(data_sizes[-1]))
        rows = {}
        for name, p_m1 in (("rlpo", sim.p_m1_rlpo), ("dpo", sim.p_m1_dpo)):
            mean, low, high = mean_interval(p_m1)
            rows[name] = {"mean_P(M1)": mean.tolist(), "ci_low": low.tolist(), "ci_high": high.tolist()}
        results[n] = {"F": iia.failure_threshold(n, args.p_ref_m1),
                      "population_gap": iia.population_reward_gap(n, args.p_ref_m1, args.p_star_1),
                      "exact_P(gap>0)_at_max": law.favours_m2, **rows}
        print(f"|Y|={n}: F={results[n]['F']:.4f} population gap={results[n]['population_gap']:+.4g} "
              f"RLPO mean P(M1) at |D|={data_sizes[-1]}: {rows['rlpo']['mean_P(M1)'][-1]:.3f} "
              f"(exact P(gap>0) = {law.favours_m2:.3f})")
    return write_results({"data_sizes": data_sizes.tolist(), "results": results}, args.json)


if __name__ == "__main__":
    sys.exit(run(main))
