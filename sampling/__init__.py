"""Longtail's statistics: pure Python + numpy/scipy, no Django; arrays and dataclasses in/out."""
