"""Physical constants of the leading-order Drell–Yan calculation, in GeV units.

The electroweak values are those of a standard Monte-Carlo-school Drell–Yan exercise
(the set that gives the quoted LO results; see the project's reference notes): they
are a consistent LO input set, not the latest PDG averages. ``α`` is the running
coupling near the Z pole, ``sin²θ_W`` its effective value.

>>> round(M_Z, 3), round(1.0 / ALPHA, 3)
(91.188, 132.507)
>>> round(KAPPA, 4)  # √2 G_F M_Z² / (4πα) = 1 / (4 sin²θ_W cos²θ_W) at tree level
1.4463
"""

import math

M_Z = 91.188
"""Z boson mass [GeV]."""
GAMMA_Z = 2.4414
"""Z boson total width [GeV]."""
ALPHA = 1.0 / 132.507
"""Electromagnetic coupling at the Z scale."""
G_F = 1.16639e-5
"""Fermi constant [GeV⁻²]."""
SIN2_THETA_W = 0.222246
"""Weak mixing angle, sin²θ_W."""
GEV2_TO_PB = 3.894e8
"""1 GeV⁻² in picobarn (ħ²c²)."""
SQRT_S = 13000.0
"""LHC proton-proton centre-of-mass energy [GeV]."""
MUON_MASS = 0.1056583755
"""Muon mass [GeV]."""
KAPPA = math.sqrt(2.0) * G_F * M_Z**2 / (4.0 * math.pi * ALPHA)
"""Ratio of the Z to the photon coupling in the Drell–Yan χ₁, χ₂ factors."""

M_TOP = 172.5
"""Top-quark mass [GeV] (t t̄ background)."""
GAMMA_TOP = 1.42
"""Top-quark width [GeV] (LO Standard-Model value)."""
M_W = 80.385
"""W boson mass [GeV]."""
GAMMA_W = 2.085
"""W boson width [GeV]."""
M_BOTTOM = 4.8
"""Bottom-quark mass [GeV] (b-jet kinematics of the t t̄ background)."""
