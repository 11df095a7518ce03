"""Regions: writing a starting config (:mod:`~lsgh_ee.regions.init`, from the templates in
:mod:`~lsgh_ee.regions.template`) and checking a config and its inputs
(:mod:`~lsgh_ee.regions.check`)."""
