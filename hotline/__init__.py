"""Guangzhou 12345 enterprise-service hotline: configuration and command line."""
