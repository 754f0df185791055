"""Longtail's statistics: pure Python + numpy/scipy, no Django. Arrays and dataclasses in and out."""
