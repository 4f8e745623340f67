"""Calibration: the register as it stands (:mod:`.register`) and the impact of an
out-of-tolerance finding on earlier results (:mod:`.impact`)."""
