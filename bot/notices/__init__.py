"""Notices (通告) to residents and shoppers, and the generic campaign delivery they run on.

- :mod:`.models`: notices and audience tags; :mod:`.audience`: who a notice is for;
- :mod:`.service`: create, cancel, expand when due, status, what residents ask, opt-out;
- :mod:`.deliveries` and :mod:`.dispatch`: one row per recipient of any campaign, claimed
  under a lease and sent exactly once by delivery workers (reusable by other campaigns);
- :mod:`.files`: notices from YAML or CSV; :mod:`.cli`: ``kefu notices``.
"""
