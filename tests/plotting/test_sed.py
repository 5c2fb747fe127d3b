"""The SED plot of the quick-look report: readable energy labels and the flux axis name."""

import itertools

import astropy.units as u
import pytest
from gammapy.modeling.models import PowerLawSpectralModel
from matplotlib.backends.backend_agg import FigureCanvasAgg

from iactpipe.plotting.analysis import plot_sed


def _visible_labels(ax):
    low, high = ax.get_xlim()
    return [
        label
        for label, tick in zip(ax.get_xticklabels(), ax.get_xticks(), strict=True)
        if low <= tick <= high and label.get_text()
    ]


@pytest.mark.parametrize("energy_range", [(3, 75), (0.5, 100), (1, 3)])
def test_energy_labels_are_plain_and_do_not_overlap(energy_range):
    model = PowerLawSpectralModel(index=3.0, amplitude="4e-8 TeV-1 cm-2 s-1", reference="3 TeV")
    fig = plot_sed(None, model, energy_range * u.TeV)
    FigureCanvasAgg(fig).draw()
    (ax,) = fig.axes
    labels = _visible_labels(ax)
    assert len(labels) >= 2
    for label in labels:
        float(label.get_text())  # "20", not "2 x 10^1"
    boxes = sorted((label.get_window_extent() for label in labels), key=lambda b: b.x0)
    for left, right in itertools.pairwise(boxes):
        assert left.x1 < right.x0
    assert ax.get_ylabel().startswith(r"$E^2\,\mathrm{d}N/\mathrm{d}E$ [")
    assert "TeV" in ax.get_xlabel()
