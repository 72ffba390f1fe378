"""OpenPersonalize: a self-hosted recommendation service that speaks the Amazon Personalize API."""

__version__ = "0.1.0"
