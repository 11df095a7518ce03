"""Training samples: hard positives and negatives, soft samples from the Gaussian heatmap,
and the train/test split (Xiong et al. 2022, §2.2 and §3.1).

* **Positives** (label 1): the landslide centre pixels (the paper), or every pixel of the
  landslide polygons (``positives: polygon``).
* **Negatives** (label 0): random pixels of non-landslide ground chosen by a named rule:
  where the heatmap is 0 (default), farther than ``negative_buffer`` metres from any
  landslide pixel, or where slope is below ``negative_max_slope`` degrees. No negative is
  ever a pixel of a mapped landslide (of any landslide of the inventory).
* **Soft samples** (label = heatmap value): random pixels from the middle three of the
  heatmap's five equal intervals, (0.2, 0.4], (0.4, 0.6] and (0.6, 0.8]; the hard samples
  cover the outer two, as in the paper.
* Every sample is a distinct pixel whose class code is valid (> 0) in every factor.

Splits: ``random`` (stratified by kind, the paper's 7:3), ``spatial`` (square blocks of
``block_size`` metres wholly in train or test; soft samples only from train blocks, labelled
by the heatmap of the landslides whose centre lies in a train block) and
``temporal`` (landslides up to ``temporal_cutoff`` train, later ones test; the heatmap and
therefore the soft samples come from the training landslides only, so nothing about the
test landslides leaks into them; negatives split at random). In the spatial and temporal
splits soft samples are for training only: the test set is hard samples only.

Everything is drawn from one ``numpy.random.Generator`` seeded with ``seed``: the same
inputs and seed give byte-identical samples.

Modules: :mod:`.samples` (the :class:`Samples` container and its GeoPackage), :mod:`.draw`
(:func:`draw_samples`), :mod:`.splits` (random, spatial and temporal splits),
:mod:`.pixels` (drawing pixels from masks).
"""

from lsgh_ee.sampling.draw import SOFT_INTERVALS, draw_samples
from lsgh_ee.sampling.samples import KINDS, SPLITS, Samples

__all__ = ["KINDS", "SOFT_INTERVALS", "SPLITS", "Samples", "draw_samples"]
