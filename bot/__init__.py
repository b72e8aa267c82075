"""Kefu (客服): a customer-service bot for property-management offices and online shops."""

__version__ = "0.1.0"
