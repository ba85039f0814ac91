"""IL and SLiC on dichotomy data: P(M1) against |M2| (seed 002, §5.5, Fig 3).

Thin wrapper over :func:`pmtheory.iia.simulate_il`, :func:`pmtheory.iia.simulate_slic` and
the population limits.

    python simulations/iia_fig3.py --choice-set-size 2 --num-data 1000 --seeds 100
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
    parser = simulation_parser(__doc__)
    parser.add_argument("--choice-set-size", type=integer_at_least(2), default=2)
    parser.add_argument("--num-data", type=integer_at_least(1), default=1000)
    parser.add_argument("--m2-sizes", type=positive_number, nargs="+", default=[10, 30, 100, 300, 1000, 3000])
    parser.add_argument("--delta", type=positive_number, default=1.0, help="SLiC margin")
    args = parse_args(parser, argv)
    sizes = np.asarray(args.m2_sizes)
    il = iia.simulate_il(choice_set_size=args.choice_set_size, num_data=args.num_data, m2_sizes=sizes,
                         num_seeds=args.seeds, seed=args.seed)
    slic = iia.simulate_slic(choice_set_size=args.choice_set_size, num_data=args.num_data, m2_sizes=sizes,
                             num_seeds=args.seeds, seed=args.seed, delta=args.delta)
    output = {"m2_sizes": sizes.tolist(),
              "il_mean": mean_interval(il.p_m1)[0].tolist(),
              "il_population": iia.population_il_p_m1(args.choice_set_size, 0.8, 0.6, m1_size=10,
                                                      m2_size=sizes).tolist(),
              "slic_mean": mean_interval(slic.p_m1)[0].tolist(),
              "slic_population": iia.population_slic_limit(args.choice_set_size, 0.8, 0.6, m1_size=10, m2_size=sizes,
                                                           delta=args.delta).p_m1_high.tolist()}
    for i, m2 in enumerate(sizes):
        print(f"|M2|={m2:>7.0f}: IL {output['il_mean'][i]:.4f} (population {output['il_population'][i]:.4f})  "
              f"SLiC {output['slic_mean'][i]:.4f} (population {output['slic_population'][i]:.4f})")
    return write_results(output, args.json)


if __name__ == "__main__":
    sys.exit(run(main))
