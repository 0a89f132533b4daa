"""Studies: command-line experiments that write run directories (Appendix B)."""
