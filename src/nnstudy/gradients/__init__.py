"""Gradient truth: finite-difference checks and chain-rule traces with numbers."""

from nnstudy.gradients.gradcheck import EntryCheck, GradcheckReport, ParamCheck, gradcheck

__all__ = ["EntryCheck", "GradcheckReport", "ParamCheck", "gradcheck"]
