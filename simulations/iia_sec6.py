"""The §6 analogue (seed 002, Fig 4): a linear reward model trained on 1+1 or 1+3 queries
of concise / informative responses, tested on pairs.

Thin wrapper over :func:`pmtheory.iia.simulate_query_format_study`.

    python simulations/iia_sec6.py --seeds 100
"""

from __future__ import annotations

import sys

from _cli import integer_at_least, parse_args, probability, run, simulation_parser, write_results  # simulations/_cli.py

from pmtheory import iia
from pmtheory.iia.data import mean_interval


def main(argv: list[str] | None = None) -> dict:
    parser = simulation_parser(__doc__)
    parser.add_argument("--p-informative", type=probability, default=0.7)
    parser.add_argument("--train-queries", type=integer_at_least(1), default=800)
    args = parse_args(parser, argv)
    output = {}
    for k in (1, 3):
        study = iia.simulate_query_format_study(informative_per_query=k, num_seeds=args.seeds, seed=args.seed + k,
                                                p_informative=args.p_informative,
                                                num_train_queries=args.train_queries)
        accuracy = [float(v) for v in mean_interval(study.test_accuracy)]
        higher = [float(v) for v in mean_interval(study.p_informative_scores_higher)]
        output[f"1+{k}"] = {"accuracy_mean_low_high": accuracy, "P(informative scored higher)_mean_low_high": higher}
        print(f"1 concise + {k} informative: test accuracy {accuracy[0]:.3f} "
              f"[{accuracy[1]:.3f}, {accuracy[2]:.3f}], P(GPT-4-like scored higher) {higher[0]:.3f}")
    return write_results(output, args.json)


if __name__ == "__main__":
    sys.exit(run(main))
