"""Training samples: hard positives and negatives, soft samples from the Gaussian heatmap,
and the train/test split (Xiong et al. 2022, §2.2 and §3.1).

* **Positives** (label 1): the landslide centre pixels (the paper), or every pixel of the
  landslide polygons (``positives: polygon``).
* **Negatives** (label 0): random pixels of non-landslide ground chosen by a named rule:
  where the heatmap is 0 (default), farther than ``negative_buffer`` metres from any
  landslide pixel, or where slope is below ``negative_max_slope`` degrees. No negative is
  ever a pixel of a landslide its side learns from (in the random split, of any landslide;
  in the spatial and temporal splits a training negative knows no test landslide and may
  lie on ground that slid later, and a test negative is never on a training landslide).
* **Soft samples** (label = heatmap value): random pixels from the middle three of the
  heatmap's five equal intervals, (0.2, 0.4], (0.4, 0.6] and (0.6, 0.8]; the hard samples
  cover the outer two, as in the paper.
* Every sample is a distinct pixel whose class code is valid (> 0) in every factor.

Splits (:mod:`.single`): ``random`` (stratified by kind, the paper's 7:3 and the default
for comparability; leaky by design: the heatmap, so the soft samples and the negatives'
exclusion zones, comes from every landslide, test ones included, and a random pixel split
is optimistic under spatial autocorrelation), ``spatial`` (test blocks of ``block_size``
metres chosen from the landslides' centres, about ``test_fraction`` of them, plus that
share of landslide-free blocks) and ``temporal`` (landslides up to ``temporal_cutoff``
train, later ones test). The spatial and temporal splits draw each side from its own
landslides (:mod:`.sides`, as a cross-validation fold does, :mod:`.folds`): the training
heatmap, soft samples and negatives' exclusion zones come from the training landslides
only; the test set is hard samples, its negatives drawn by the configured rule from the
test landslides only, off the training side's samples and landslides.

Everything is drawn from generators seeded with ``seed``: the same inputs and seed give
byte-identical samples.

Modules: :mod:`.samples` (the :class:`Samples` container and its GeoPackage), :mod:`.draw`
(one set of samples from given landslides), :mod:`.sides` (the sides of a split, each from
its own landslides), :mod:`.single` (:func:`draw_samples`, the ``sample`` stage's split),
:mod:`.folds` (cross-validation folds and held-out early-stopping sets), :mod:`.splits`
(random split, blocks, held-out blocks, temporal cutoff), :mod:`.pixels` (drawing pixels
from masks, whole or strip by strip), :mod:`.ground` (a draw's masks strip by strip),
:mod:`.source` (the factors, in memory or read window by window from a run folder).

Every draw goes strip of rows by strip (``output.strip_rows``; the ``sample`` stage reads
the run folder's stacks window by window): the same random calls on the same candidates
as on the whole grid, so the same samples for any strip height. Whole-grid arrays remain
where the callers hold the whole stack anyway: the cross-validation folds' areas and
heatmaps (:mod:`.folds`) and :func:`draw_samples`' returned heatmap.
"""

from lsgh_ee.sampling.draw import SOFT_INTERVALS
from lsgh_ee.sampling.samples import KINDS, SPLITS, Samples
from lsgh_ee.sampling.single import draw_samples

__all__ = ["KINDS", "SOFT_INTERVALS", "SPLITS", "Samples", "draw_samples"]
