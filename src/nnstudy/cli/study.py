"""`nnstudy study run | resume | status | report`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from nnstudy.cli.app import app, console, err_console, free_run_dir

if TYPE_CHECKING:
    from nnstudy.study import StudyResult

EXECUTOR_HELP = ("Where work units run: auto (inprocess for one unit or one worker, ray with "
                 "--address, else local), inprocess, local (worker processes), ray.")
ADDRESS_HELP = ("A Ray cluster's address (host:port of `ray start --head`); without it "
                "--executor ray starts a local Ray instance and stops it at the end.")

study_app = typer.Typer(help="Grids x seeds of training runs, stored in SQLite, resumable.",
                        no_args_is_help=True)
app.add_typer(study_app, name="study")


@contextlib.contextmanager
def _resumable_on_ctrl_c(study_dir: Path) -> Iterator[None]:
    """Ctrl-C: the executor has cancelled its units and the store holds every unit that
    finished; say how to continue, exit code 130."""
    try:
        yield
    except KeyboardInterrupt:
        err_console.print(f"interrupted; continue with `nnstudy study resume {study_dir}`",
                          highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(130) from None


def _start_workers_early(executor: str, address: str | None, workers: int | None) -> None:
    """Where the units may run in local worker processes, start their fork server now: it
    imports torch and the trainer while this process imports its own and reads the study
    (see `nnstudy.study.executors.local`)."""
    if executor in ("auto", "local") and address is None and workers != 1:
        from nnstudy.study.executors.local import start_worker_server

        start_worker_server()


def _print_result(result: StudyResult) -> None:
    """The report's head (header, best per group, winner and runner-up) and its files."""
    from nnstudy.report import StudyReport

    report = StudyReport(result)
    console.print(report.head().rstrip(), highlight=False, markup=False, soft_wrap=True)
    console.print(f"report: {report.markdown_path}  page: {report.html_path}  "
                  f"results: {report.csv_path}",
                  highlight=False, markup=False)


@study_app.command("run")
def run_command(
    study_file: Path = typer.Argument(..., help="Study file (YAML): base config, grid, seeds."),
    out: Path = typer.Option(None, "--out",
                             help="Study directory [default: runs/<name>, or runs/<name>-2, "
                                  "... if that exists]."),
    workers: int = typer.Option(None, "--workers", help="Worker processes [default: cores]."),
    threads: int = typer.Option(None, "--threads",
                                help="Torch threads per work unit [default: 1]."),
    set_: list[str] = typer.Option([], "--set", help="Override a key: --set train.epochs=5"),
    keep_models: str = typer.Option(None, "--keep-models",
                                    help="Whose weights models/ keeps: best (the best seed of "
                                         "each selected configuration), all or none "
                                         "[default: the study file's keep_models, or best]."),
    executor: str = typer.Option("auto", "--executor", help=EXECUTOR_HELP),
    address: str = typer.Option(None, "--address", help=ADDRESS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    """Run every trial of a study; groups of trials that share an architecture train
    together. Writes study.db, results.csv, report.md and report.html; keeps the weights
    `keep_models` says (default: the best seed of each selected configuration)."""
    _start_workers_early(executor, address, workers)
    from nnstudy.api import Study
    from nnstudy.config.study import check_parallelism
    from nnstudy.study.executors import check_executor

    check_parallelism(workers, threads)
    if keep_models is not None:
        set_ = [*set_, f"keep_models={keep_models}"]
    check_executor(executor, address)
    study = Study.from_yaml(study_file, set_)
    if out is None:  # a new directory: an earlier run of the same study is kept
        out = free_run_dir(Path("runs") / study.spec.dir_name)
    units = len(study.work_units())
    console.print(f"study {study.spec.name}: {len(study.plans)} trials in "
                  f"{len(study.groups)} group(s), {units} work unit(s) of at most "
                  f"{study.spec.max_group_size} models (max_group_size)",
                  highlight=False, markup=False)
    with _resumable_on_ctrl_c(out):
        result = study.run(out=out, workers=workers, threads=threads,
                           progress=not quiet and console.is_terminal, executor=executor,
                           address=address)
    _print_result(result)


@study_app.command("resume")
def resume_command(
    study_dir: Path = typer.Argument(..., help="Study directory to continue."),
    workers: int = typer.Option(None, "--workers", help="Worker processes [default: cores]."),
    executor: str = typer.Option("auto", "--executor", help=EXECUTOR_HELP),
    address: str = typer.Option(None, "--address", help=ADDRESS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    """Run exactly the trials that are not done (pending, running when killed, failed), on
    any executor."""
    _start_workers_early(executor, address, workers)
    from nnstudy.api import resume
    from nnstudy.config.study import check_parallelism
    from nnstudy.study.executors import check_executor

    check_parallelism(workers)
    check_executor(executor, address)
    with _resumable_on_ctrl_c(study_dir):
        result = resume(study_dir, workers=workers, progress=not quiet and console.is_terminal,
                        executor=executor, address=address)
    _print_result(result)


@study_app.command("status")
def status_command(study_dir: Path = typer.Argument(..., help="Study directory.")) -> None:
    """Trials per status and the groups left."""
    from nnstudy.study import status

    s = status(study_dir)
    counts = ", ".join(f"{v} {k}" for k, v in sorted(s["counts"].items()))
    console.print(f"study {s['name']}: {s['total']} trials ({counts}); "
                  f"{s['groups_not_done']} group(s) not done", highlight=False, markup=False)


@study_app.command("report")
def report_command(study_dir: Path = typer.Argument(..., help="Study directory.")) -> None:
    """Rewrite results.csv, report.md and report.html from the store (of a finished study,
    or a partial page of one still running or stopped), and print the summary."""
    from nnstudy.api import report

    _print_result(report(study_dir))
