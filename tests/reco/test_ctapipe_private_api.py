"""
The ctapipe private API that `iactpipe.reco.models` isolates (``_predict``,
``_predict_score``, ``_models``) gives what ctapipe's public ``predict_table`` gives on
rows that pass its quality query: a ctapipe upgrade that changes them fails here.
"""

import astropy.units as u
import numpy as np
from astropy.table import Table
from traitlets.config import Config

from iactpipe.instrument import sst1m_subarray
from iactpipe.reco.models import fitted_estimators, reconstructor_predict, reconstructor_score

FEATURES = ["hillas_intensity", "hillas_width"]
# ctapipe's quality query passes every row (predict_table applies it, the private calls not)
CONFIG = Config({"MLQualityQuery": {"quality_criteria": [("any", "hillas_intensity > 0")]}})


def _table(n=200, seed=1):
    rng = np.random.default_rng(seed)
    intensity = 10 ** rng.uniform(2, 4, n)
    return Table(
        {
            "hillas_intensity": intensity,
            "hillas_width": rng.uniform(0.01, 0.05, n) * u.m,
            "true_energy": intensity / 100 * rng.lognormal(0, 0.1, n) * u.TeV,
            "true_shower_primary_id": rng.choice([0, 101], n),
        }
    )


def test_private_predictions_equal_public_predict_table():
    from ctapipe.reco import EnergyRegressor, ParticleClassifier

    subarray = sst1m_subarray()
    table = _table()
    key = "tel_001"
    kwargs = dict(model_cls="DecisionTreeRegressor", features=FEATURES, config=CONFIG)
    energy = EnergyRegressor(subarray, prefix="E", **kwargs)
    energy.fit(key, table)
    assert set(fitted_estimators(energy)) == {key}
    prediction, valid = reconstructor_predict(energy, key, table)
    public = energy.predict_table(key, table)[energy.property]
    assert valid.all()
    np.testing.assert_allclose(u.Quantity(prediction, u.TeV), public["E_tel_energy"])

    kwargs["model_cls"] = "DecisionTreeClassifier"
    particle = ParticleClassifier(subarray, prefix="P", **kwargs)
    particle.fit(key, table)
    score, valid = reconstructor_score(particle, key, table)
    public = particle.predict_table(key, table)[particle.property]
    np.testing.assert_allclose(score, public["P_tel_prediction"])
    fitted_estimators(particle).pop(key)
    assert not fitted_estimators(particle)
