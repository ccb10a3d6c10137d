"""``python -m bench [--quick] [--only NAME]``: run the benchmarks, print, save JSON."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType

from bench import artifacts, data, metadata, registry, report
from bench import backlog as backlog_bench
from bench import drift as drift_bench
from bench import evaluation as evaluation_bench
from bench import llmops as llmops_bench
from bench import pii as pii_bench
from bench import pipelines as pipelines_bench
from bench import redteam as redteam_bench
from bench import serving as serving_bench
from bench.workspaces import scrub_passline_env

POSTGRES_ENV = "PASSLINE_BENCH_POSTGRES_URL"

# A benchmark takes (quick, console) and returns its table(s) and its JSON payload.
Benchmark = Callable[[bool, Console], tuple[RenderableType, dict[str, Any]]]


def run_metadata(quick: bool, console: Console) -> tuple[RenderableType, dict[str, Any]]:
    params = metadata.QUICK if quick else metadata.FULL
    result = metadata.run(params, os.environ.get(POSTGRES_ENV), console)
    return report.metadata_table(result), result.to_json()


def run_artifacts(quick: bool, console: Console) -> tuple[RenderableType, dict[str, Any]]:
    params = artifacts.QUICK if quick else artifacts.FULL
    result = artifacts.run(params, console)
    return report.artifacts_table(result), result.to_json()


def run_data(quick: bool, console: Console) -> tuple[RenderableType, dict[str, Any]]:
    params = data.QUICK if quick else data.FULL
    result = data.run(params, console)
    return report.data_tables(result), result.to_json()


def run_registry(quick: bool, console: Console) -> tuple[RenderableType, dict[str, Any]]:
    params = registry.QUICK if quick else registry.FULL
    result = registry.run(params, console)
    return registry.registry_tables(result), result.to_json()


BENCHMARKS: dict[str, Benchmark] = {
    "metadata": run_metadata,
    "artifacts": run_artifacts,
    "data": run_data,
    "registry": run_registry,
    "serving": serving_bench.run_benchmark,
    "drift": drift_bench.run_benchmark,
    "pii": pii_bench.run_benchmark,
    "llmops": llmops_bench.run_benchmark,
    "evaluation": evaluation_bench.run_benchmark,
    "redteam": redteam_bench.run_benchmark,
    "backlog": backlog_bench.run_benchmark,
    "pipelines": pipelines_bench.run_benchmark,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (a smoke run of a minute or so)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--results-dir", type=Path, default=report.RESULTS_DIR, help="where JSON files go"
    )
    return parser.parse_args(argv)


def run_one(name: str, args: argparse.Namespace, console: Console) -> None:
    started = datetime.now(UTC)
    table, payload = BENCHMARKS[name](args.quick, console)
    console.print(table)
    saved_as = f"{name}-quick" if args.quick else name
    payload = {"quick": args.quick, **payload}
    for path in report.write_results(saved_as, payload, started, args.results_dir):
        console.print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scrub_passline_env()
    # Piped output (make, CI logs) would otherwise wrap the tables at 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 160)
    for name in args.only or list(BENCHMARKS):
        run_one(name, args, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
