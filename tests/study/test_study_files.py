"""Every study file shipped in studies/ loads, validates and plans its trials."""

from pathlib import Path

import pytest

from nnstudy.config.study import load_study, plan_trials

STUDIES = sorted((Path(__file__).resolve().parents[2] / "studies").glob("*.yaml"))


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.stem)
def test_study_file_loads_and_plans(path):
    study = load_study(path)
    plans = plan_trials(study)
    assert len(plans) == len(study.seed_list) * max(1, len(study.variants)) * max(
        1, _points(study))
    assert len({p.trial_id for p in plans}) == len(plans)


def _points(study):
    n = 1
    for values in study.grid.values():
        n *= len(values)
    return n
