"""Data-driven class breaks recomputed on part of the grid: a cross-validation fold's
training area, so that no test-fold pixel shapes the classes.

Factors classified with ``classify: quantile | natural`` (their schema ``method`` records
``classify`` and ``n_classes_asked``) get their breaks recomputed from the values inside
``area`` only (:func:`~lsgh_ee.factors.classify.data_breaks`, the same seed) and every
pixel reclassified with them. These breaks use no labels — only the factor's own values —
so the gain is strictness, not a leak closed. Table 2 breaks, aspect and categorical
factors are fixed and left untouched.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from lsgh_ee.factors.catalogue import interval_labels
from lsgh_ee.factors.classify import classify_breaks, data_breaks
from lsgh_ee.factors.stack import FactorStack

log = logging.getLogger(__name__)

DATA_METHODS = ("quantile", "natural")


def breaks_within(
    stack: FactorStack, area: np.ndarray, *, seed: int
) -> tuple[FactorStack, list[str]]:
    """The stack with the data-driven factors' breaks recomputed from the pixels of
    ``area`` (boolean grid mask) and their codes reclassified over the whole grid.

    Returns:
        (stack, names): a new stack (untouched layers shared) and the names of the factors
        whose breaks were recomputed. A factor whose values inside ``area`` cannot be
        split (constant) keeps its region-wide breaks, with a warning.
    """
    area = np.asarray(area, dtype=bool)
    layers, names = [], []
    for layer in stack.layers:
        method = layer.method.get("classify")
        if method not in DATA_METHODS:
            layers.append(layer)
            continue
        n_classes = int(layer.method.get("n_classes_asked") or len(layer.classes))
        try:
            breaks = data_breaks(layer.values[area], method, n_classes, seed=seed)
        except ValueError as exc:
            log.warning("factor %s: region-wide %s breaks kept (%s)", layer.name, method, exc)
            layers.append(layer)
            continue
        layers.append(dataclasses.replace(
            layer, breaks=breaks, classes=interval_labels(breaks),
            codes=classify_breaks(layer.values, breaks),
            method={**layer.method, "breaks_from": "the training area's values"}))  # fmt: skip
        names.append(layer.name)
    return FactorStack(grid=stack.grid, layers=layers), names
