"""The bit-flipping (slowly changing regression) study of Section 4 and Appendix B.1.1.

``task`` (the data stream and its LTU target), ``learner`` (the online two-layer learner and its
per-sample autograd reference), ``engine`` (many runs vectorized), ``probe`` (representation metrics).
"""
