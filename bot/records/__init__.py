"""Records Kefu answers from: the resident registry, shop orders and the fee ledger (issue 7).

Services are plain functions/classes over an ``AsyncSession``; the dialogue actions stay thin.
"""
