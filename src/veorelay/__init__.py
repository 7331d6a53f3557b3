"""veorelay: a self-hostable gateway for Google's Veo 3.1 video models."""

__version__ = "0.1.0"
