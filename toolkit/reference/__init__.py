"""Public figures shipped with the toolkit, each row with the source it was copied from.

* ``clr_factors_pa.csv`` — Pennsylvania common level ratio (CLR) real estate
  valuation factors (:mod:`toolkit.reference.clr`, ``docs/clr.md``);
* ``investor_profile_starter.yaml`` — the commented starter profile that
  ``toolkit profile init`` writes (defaults, each marked with where it comes from);
* ``sources/`` — the texts the figures were read from, quoted.
"""
