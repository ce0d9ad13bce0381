"""What the study figure scripts share: the command line (STUDY_DIR [--out DIR] [--only FIGURE ...]), loading
the runs (a study folder of runs, or one run directory) and saving."""
import argparse
import json
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def fail(message):
    """Bad input: one line on stderr and exit code 2, as mechlab itself does."""
    print(message, file=sys.stderr)
    sys.exit(2)


class StudyRun:
    """One run directory: its name, resolved config and evaluations (the metrics.jsonl records holding
    `eval_key`); the study scripts derive their Run classes from it."""

    eval_key = "eval_loss"

    def __init__(self, path):
        self.path = path
        self.name = path.name
        self.config = json.loads((path / "config.json").read_text())
        records = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines() if line.strip()]
        self.evals = [r for r in records if self.eval_key in r]
        if not self.evals:
            fail(f"{path}/metrics.jsonl has no evaluation yet; wait for the run's first evaluation")

    def last(self):
        return self.evals[-1]


def save_figure(fig, path, dpi=120):
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def load_runs(directory, run_class, role):
    """{name: run} for a study folder (its run directories by name), or for one run directory ({role(run): run},
    the study's name for what that run is, so the figures that need e.g. a "1layer" run find it)."""
    if (directory / "metrics.jsonl").exists():
        run = run_class(directory)
        return {role(run) if role else run.name: run}
    return {p.name: run_class(p) for p in sorted(directory.iterdir()) if (p / "metrics.jsonl").exists()}


def main(doc, script, figures, run_class, role=None, loader=None):
    """Parses the command line, loads the runs of STUDY_DIR with run_class and draws the chosen figures;
    figures maps a name to a function (runs, out_dir) -> [paths written] whose docstring's first line says
    which runs it needs; role names a lone run directory's run as the study would. loader(STUDY_DIR) -> {name:
    run}, when given, loads the runs instead (studies whose runs are not laid out one metrics.jsonl each)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study_dir", type=pathlib.Path)
    parser.add_argument("--out", type=pathlib.Path, help="where figures go (default STUDY_DIR/figures)")
    parser.add_argument("--only", nargs="+", choices=sorted(figures), help="draw only these figures")
    args = parser.parse_args()
    if not args.study_dir.is_dir():
        fail(f"{script}: {args.study_dir} is not a directory; pass the folder that holds the runs")
    runs = loader(args.study_dir) if loader else load_runs(args.study_dir, run_class, role)
    if not runs:
        fail(f"{script}: {args.study_dir} is neither a run directory nor a folder of them (no metrics.jsonl)")
    out = args.out or args.study_dir / "figures"
    out.mkdir(parents=True, exist_ok=True)
    drawn = 0
    for name in args.only or figures:
        paths = figures[name](runs, out)
        for path in paths:
            print(path)
        drawn += len(paths)
        if not paths:
            needs = (figures[name].__doc__ or "").strip().splitlines()[0] if figures[name].__doc__ else ""
            print(f"{script}: skipped {name}: {needs or 'none of these runs has what it draws'}", file=sys.stderr)
    if drawn == 0:
        fail(f"{script}: nothing to draw from {', '.join(sorted(runs))}")
