"""The Hillas-distribution figure histograms exactly the finite input values."""

import numpy as np
from astropy.table import Table

from iactpipe.plotting import HILLAS_PANELS, plot_hillas_distributions


def test_counts_match_input(tmp_path):
    rng = np.random.default_rng(1)
    intensity = np.concatenate([rng.lognormal(5, 1, 500), [np.nan] * 20])
    table = Table({"hillas_intensity": intensity, "hillas_width": rng.uniform(0, 0.4, 520)})
    fig = plot_hillas_distributions({"a": table}, density=False)
    bins = dict((c, b) for c, _, b, _ in HILLAS_PANELS)
    expected, _ = np.histogram(intensity[np.isfinite(intensity)], bins=bins["hillas_intensity"])
    np.testing.assert_array_equal(fig.hillas_counts[("hillas_intensity", "a")], expected)
    assert ("hillas_length", "a") not in fig.hillas_counts
    fig.savefig(tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 1000
