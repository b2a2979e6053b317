"""The routing engine against the Solomon benchmark, and a 1,000-job city day.

    python benchmarks/bench_routing.py [--time-limit 10] [--instances C101 R1*] \
        [--backend auto|ortools|pyvrp] [--compare ortools] [--workers 2] [--no-large]

Solves each instance, checks every solution with the independent checker (distances in full
precision, never the solver's own), prints one line per instance, then the summary:

    SOLOMON instances=<n> feasible=<n> mean_gap_pct=<x.xx> max_gap_pct=<x.xx> time_limit_s=<t>

gap % = 100 x (checked distance / best-known distance - 1), best-knowns from bks.csv (see
../shared/benchmarks/README.md: full precision makes even the best-known routes 0.2-0.6 %
longer). ``--compare`` runs a second backend on the same instances and prints its summary on
a line of its own, so both engines are measured on every run.
"""

import argparse
import fnmatch
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lastmile.routing.checker import check
from lastmile.routing.params import Backend, Objective, SolverParams
from lastmile.routing.solomon import read_best_known, read_instance
from lastmile.routing.solver import solve

DEFAULT_DIR = ROOT.parent / "shared" / "benchmarks" / "solomon"


def solve_one(args: tuple[Path, str, float, dict, str]) -> dict:
    path, backend, time_limit, bks, first_solution = args
    problem = read_instance(path)
    params = SolverParams(
        time_limit_s=time_limit,
        backend=Backend(backend),
        objective=Objective.DISTANCE,
        distance_scale=100,
        time_scale=100,
        first_solution=first_solution,
    )
    started = time.monotonic()
    solution = solve(problem, params)
    seconds = time.monotonic() - started
    report = check(problem, solution)
    feasible = report.feasible and not solution.unassigned
    best = bks[path.stem]
    return {
        "name": path.stem,
        "backend": solution.backend,
        "vehicles": report.vehicles_used,
        "distance": report.distance_m,
        "gap": 100 * (report.distance_m / best.distance - 1),
        "bks": best.distance,
        "bks_vehicles": best.vehicles,
        "feasible": feasible,
        "unassigned": len(solution.unassigned),
        "violations": report.violations[:2],
        "seconds": seconds,
    }


def run(
    paths: list[Path], backend: str, time_limit: float, workers: int, bks: dict, first: str
) -> list[dict]:
    jobs = [(p, backend, time_limit, bks, first) for p in paths]
    results = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for r in pool.map(solve_one, jobs):
            status = "ok" if r["feasible"] else f"INFEASIBLE {r['unassigned']} {r['violations']}"
            print(
                f"{r['name']:<6} backend={r['backend']:<7} vehicles={r['vehicles']:>2} "
                f"(bks {r['bks_vehicles']:>2}) distance={r['distance']:9.2f} "
                f"(bks {r['bks']:8.1f}) gap={r['gap']:6.2f}% seconds={r['seconds']:5.1f} {status}",
                flush=True,
            )
            results.append(r)
    return results


def summary(results: list[dict], time_limit: float) -> str:
    gaps = [r["gap"] for r in results if r["feasible"]]
    feasible = len(gaps)
    mean = sum(gaps) / feasible if feasible else float("nan")
    worst = max(gaps) if gaps else float("nan")
    limit = f"{time_limit:g}"
    return (
        f"instances={len(results)} feasible={feasible} mean_gap_pct={mean:.2f} "
        f"max_gap_pct={worst:.2f} time_limit_s={limit}"
    )


def large(time_limit: float, backend: str) -> None:
    from lastmile.routing.instances import city_instance

    started = time.monotonic()
    problem = city_instance(jobs=1000, vehicles=45)
    built = time.monotonic() - started
    solution = solve(problem, SolverParams(time_limit_s=time_limit, backend=Backend(backend)))
    report = check(problem, solution)
    total = time.monotonic() - started
    print(
        f"LARGE jobs={len(problem.jobs)} vehicles={report.vehicles_used}/{len(problem.vehicles)} "
        f"backend={solution.backend} assigned={len(problem.jobs) - len(solution.unassigned)} "
        f"unassigned={len(solution.unassigned)} feasible={report.feasible} "
        f"distance_km={report.distance_m / 1000:.1f} build_s={built:.1f} "
        f"solve_s={solution.solve_s:.1f} total_s={total:.1f} time_limit_s={time_limit:g}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="Solomon instance folder")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance")
    parser.add_argument("--instances", nargs="*", default=["*"], help="names or patterns")
    parser.add_argument("--backend", default="auto", choices=[b.value for b in Backend])
    parser.add_argument("--compare", default="ortools", help="second backend, or 'none'")
    parser.add_argument(
        "--first-solution",
        default="AUTO",
        help="OR-Tools first-solution strategy (AUTO: a portfolio on small problems)",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-large", action="store_true", help="skip the 1,000-job day")
    parser.add_argument("--large-time-limit", type=float, default=60.0)
    args = parser.parse_args()

    if not args.dir.is_dir():
        parser.error(f"no Solomon instances at {args.dir}")
    bks = read_best_known(args.dir / "bks.csv")
    paths = sorted(
        p
        for p in args.dir.glob("*.txt")
        if any(fnmatch.fnmatch(p.stem, pattern) for pattern in args.instances)
    )
    if not paths:
        parser.error(f"no instance matches {args.instances}")

    compare = None if args.compare in ("none", args.backend) else args.compare
    if compare:
        other = run(paths, compare, args.time_limit, args.workers, bks, args.first_solution)
        print(f"compare backend={compare} {summary(other, args.time_limit)}", flush=True)
    results = run(paths, args.backend, args.time_limit, args.workers, bks, args.first_solution)
    if not args.no_large:
        if compare:
            large(args.large_time_limit, compare)
        large(args.large_time_limit, args.backend)
    print(f"SOLOMON {summary(results, args.time_limit)}", flush=True)


if __name__ == "__main__":
    main()
