"""Experiments grounding the paper (Section 2, Appendices A.4 and B): the four architectures of Appendix
B.1.3 (``models``), function-preserving cloning with certificates (``cloning``), the plasticity metrics of
Appendix B.1.2 (``metrics``), optimizers (``optim``), datasets (``data``), typed configuration
(``config``), run directories (``runs``) and the studies run by ``python -m experiments``.
"""
