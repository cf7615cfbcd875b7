"""wallboard: a real-time contact-centre wallboard."""

__version__ = "0.1.0"
