"""Every study file in studies/ runs, as a one-epoch smoke version, through the real runner.

Each file is run as shipped except for its size: one seed, one epoch (or three steps where the
file counts steps), a small training subset (`data.max_per_class`), and its data read from
../shared/data/mnist-10k where the file reads MNIST. Every trial must end done (or diverged,
a result), and report.md must be written: a study file that no longer loads, validates,
groups, trains or reports fails here, in CI, before a user runs it. report.html (figures for
every study, tested in tests/report/) is left out to keep this under a minute.
"""

from pathlib import Path

import pytest
import yaml

from nnstudy.report import StudyReport
from nnstudy.study import Study
from nnstudy.training.run import train

REPO = Path(__file__).resolve().parents[1]
STUDIES = sorted((REPO / "studies").glob("*.yaml"))
MNIST = REPO.parent / "shared" / "data" / "mnist-10k"
PER_CLASS = 12


def smoke_overrides(raw: dict) -> list[str]:
    """The `--set` overrides that make a study file a one-epoch smoke run."""
    train = raw.get("train", {})
    budget = "train.steps=3" if "steps" in train else "train.epochs=1"
    sets = ["seeds=[0]", budget, f"data.max_per_class={PER_CLASS}"]
    if raw["data"].get("name") == "mnist":
        sets.append(f"data.root={MNIST}")
    return sets


def _backbone(tmp_path: Path) -> None:
    """transfer-digits.yaml reads the run of examples/lenet-digits-0-4.yaml from
    runs/lenet-digits-0-4 (relative to the working directory): train it, small, first."""
    config = yaml.safe_load((REPO / "examples" / "lenet-digits-0-4.yaml").read_text())
    config["data"].update(root=str(MNIST), max_per_class=PER_CLASS)
    config["train"].update(epochs=1)
    train(config, out=tmp_path / "runs" / "lenet-digits-0-4")


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.stem)
def test_study_file_runs_one_epoch(path, tmp_path, monkeypatch):
    raw = yaml.safe_load(path.read_text())
    if raw["data"].get("name") == "mnist" and not MNIST.is_dir():
        pytest.skip("../shared/data/mnist-10k is not here")
    monkeypatch.chdir(tmp_path)
    if path.stem == "transfer-digits":
        _backbone(tmp_path)
    result = Study.from_yaml(path, smoke_overrides(raw)).run(out=tmp_path / "study", workers=1)
    StudyReport(result).write(html=False)
    statuses = set(result.trials["status"])
    assert statuses <= {"done", "diverged"}, result.trials[["trial_id", "status", "error"]]
    assert "done" in statuses
    assert (tmp_path / "study" / "report.md").is_file()
