"""``[uncertainty]`` in scenario files: distributions parsed with errors naming file, table
line and field; quantile functions stay within their bounds and follow their shape."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chokepoint.errors import InputError
from chokepoint.inputs.scenario import load_scenario
from chokepoint.inputs.uncertainty import DATA_DEFAULTS, Distribution
from tests.chokepoint.inputs.test_scenario import BASE


def _load(tmp_path, extra: str):
    path = tmp_path / "u.toml"
    path.write_text(BASE + extra)
    return load_scenario(path)


def _line_of(tmp_path, header: str) -> int:
    text = (tmp_path / "u.toml").read_text().splitlines()
    return next(i + 1 for i, line in enumerate(text) if line.strip() == header)


def test_declared_distributions_are_parsed(tmp_path):
    scenario = _load(tmp_path, '''
[uncertainty.actors.CHN]
detection_probability = { dist = "triangular", low = 0.3, mode = 0.5, high = 0.9 }
first_mover_gain = { dist = "lognormal", median = 1.0, sigma = 0.5, low = 0.2, high = 5.0 }
[uncertainty.settings]
cloud_access_fraction = { dist = "uniform", low = 0.05, high = 0.2 }
[uncertainty.transit]
MYS = { dist = "uniform", low = 0.0, high = 0.02 }
[uncertainty.data]
imputed_share = { dist = "uniform", low = 0.5, high = 1.5 }
''')
    spec = scenario.uncertainty
    assert spec.actors["CHN"]["detection_probability"] == Distribution("triangular", 0.3, 0.9, mode=0.5)
    assert spec.actors["CHN"]["first_mover_gain"].kind == "lognormal"
    assert spec.settings["cloud_access_fraction"] == Distribution("uniform", 0.05, 0.2)
    assert spec.transit["MYS"].high == 0.02
    assert spec.data["imputed_share"] == Distribution("uniform", 0.5, 1.5)
    assert spec.data["observed_share"] == DATA_DEFAULTS["observed_share"]  # not overridden: the default


def test_no_section_means_data_defaults_only(tmp_path):
    spec = _load(tmp_path, "").uncertainty
    assert spec.actors == {} and spec.settings == {} and spec.transit == {}
    assert spec.data == DATA_DEFAULTS


BAD = [
    ('[uncertainty.actors.CHN]\ndetection_probability = { dist = "gauss", low = 0.1, high = 0.5 }\n',
     "[uncertainty.actors.CHN]", "detection_probability", "unknown distribution 'gauss'"),
    ('[uncertainty.actors.CHN]\ndetection_probability = { dist = "uniform", low = 0.6, high = 0.5 }\n',
     "[uncertainty.actors.CHN]", "detection_probability", "low 0.6 is above high 0.5"),
    ('[uncertainty.actors.CHN]\ndetection_probability = { dist = "uniform", low = 0.5, high = 1.5 }\n',
     "[uncertainty.actors.CHN]", "detection_probability", "admissible range [0, 1]"),
    ('[uncertainty.actors.CHN]\nfirst_mover_gain = { dist = "triangular", low = 1, mode = 5, high = 3 }\n',
     "[uncertainty.actors.CHN]", "first_mover_gain", "mode 5 is outside"),
    ('[uncertainty.actors.CHN]\nfirst_mover_gain = { dist = "lognormal", median = 1.0 }\n',
     "[uncertainty.actors.CHN]", "first_mover_gain", "needs 'sigma'"),
    ('[uncertainty.actors.CHN]\nfirst_mover_gain = { dist = "uniform", low = 1, high = 2, mode = 1 }\n',
     "[uncertainty.actors.CHN]", "first_mover_gain", "unknown parameter 'mode'"),
    ('[uncertainty.actors.CHN]\nfirst_mover_gain = { dist = "uniform", low = "a", high = 2 }\n',
     "[uncertainty.actors.CHN]", "first_mover_gain", "expected a number"),
    ('[uncertainty.actors.CHN]\nfirst_mover_gain = { dist = "uniform", low = 1, high = inf }\n',
     "[uncertainty.actors.CHN]", "first_mover_gain", "needs finite low and high"),
    ('[uncertainty.actors.CHN]\nluck = { dist = "uniform", low = 1, high = 2 }\n',
     "[uncertainty.actors.CHN]", "luck", "not an uncertain actor parameter"),
    ('[uncertainty.actors.XYZ]\nfirst_mover_gain = { dist = "uniform", low = 1, high = 2 }\n',
     "[uncertainty.actors.XYZ]", "XYZ", "unknown actor"),
    ('[uncertainty.settings]\nbudget = { dist = "uniform", low = 1, high = 2 }\n',
     "[uncertainty.settings]", "budget", "not an uncertain setting"),
    ('[uncertainty.transit]\nSGP = { dist = "uniform", low = 0, high = 0.1 }\n',
     "[uncertainty.transit]", "SGP", "not a transit country"),
    ('[uncertainty.data]\nimputed_share = { dist = "uniform", low = 0, high = 2 }\n',
     "[uncertainty.data]", "imputed_share", "must stay above 0"),
    ('[uncertainty.data]\nguessed_share = { dist = "uniform", low = 0.5, high = 2 }\n',
     "[uncertainty.data]", "guessed_share", "not a data factor"),
    ('[uncertainty.settings]\ncloud_access_fraction = 0.2\n',
     "[uncertainty.settings]", "cloud_access_fraction", "expected a distribution table"),
]


@pytest.mark.parametrize("extra, table, field, message", BAD, ids=[case[2] + "-" + case[3][:20] for case in BAD])
def test_bad_distributions_name_file_line_and_field(tmp_path, extra, table, field, message):
    with pytest.raises(InputError) as caught:
        _load(tmp_path, extra)
    error = caught.value
    assert error.file.endswith("u.toml")
    assert error.field == field
    assert message in error.message
    assert error.row == f"{table} (line {_line_of(tmp_path, table)})"
    assert "u.toml" in str(error) and field in str(error)


@pytest.mark.parametrize("extra, field", [("[uncertainty]\nactor = 1\n", "actor"),
                                          ("[uncertainty]\nactors = [1]\n", "actors"),
                                          ("[uncertainty]\ndata = 2\n", "data"),
                                          ("uncertainty = 5\n", "uncertainty")])
def test_malformed_uncertainty_tables_are_refused(tmp_path, extra, field):
    with pytest.raises(InputError) as caught:
        _load(tmp_path, extra) if not extra.startswith("uncertainty") else _load_top(tmp_path, extra)
    assert caught.value.field == field


def _load_top(tmp_path, line: str):
    path = tmp_path / "u.toml"
    path.write_text(line + BASE)
    return load_scenario(path)


DISTRIBUTIONS = [Distribution("uniform", 0.2, 0.7), Distribution("triangular", 1.0, 4.0, mode=1.5),
                 Distribution("lognormal", 0.5, 2.0, median=1.0, sigma=0.3),
                 Distribution("lognormal", 0.0, math.inf, median=3.0, sigma=1.0),
                 Distribution("triangular", 2.0, 2.0, mode=2.0)]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=50), st.sampled_from(DISTRIBUTIONS))
def test_draws_stay_within_bounds_and_are_monotone_in_u(u, distribution):
    u = np.sort(np.array(u))
    values = distribution.ppf(u)
    assert np.all(values >= distribution.low) and np.all(values <= distribution.high)
    assert np.all(np.diff(values) >= -1e-12)


def test_quantiles_match_their_definitions():
    tri = Distribution("triangular", 0.0, 1.0, mode=0.25)
    # CDF of the triangular at the mode is (mode − low)/(high − low) = 0.25.
    assert tri.ppf(np.array([0.25]))[0] == pytest.approx(0.25)
    assert Distribution("uniform", 2.0, 6.0).ppf(np.array([0.5]))[0] == 4.0
    # Untruncated log-normal: the median is its 50 % quantile; exp(σ·1.6449) its 95 %.
    ln = Distribution("lognormal", 0.0, math.inf, median=2.0, sigma=0.5)
    assert ln.ppf(np.array([0.5]))[0] == pytest.approx(2.0)
    assert ln.ppf(np.array([0.95]))[0] == pytest.approx(2.0 * math.exp(0.5 * 1.6448536), rel=1e-6)
    # Truncated: the quantiles span exactly the bounds.
    cut = Distribution("lognormal", 1.0, 3.0, median=2.0, sigma=0.5)
    assert cut.ppf(np.array([0.0, 1.0])) == pytest.approx([1.0, 3.0])
    rng = np.random.default_rng(0)
    draws = tri.ppf(rng.random(200_000))
    assert draws.mean() == pytest.approx((0.0 + 0.25 + 1.0) / 3, abs=3e-3)
