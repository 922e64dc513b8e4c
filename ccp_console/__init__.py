"""ccp_console: a web console in front of telephony vendors."""

from .celery import app as celery_app

__all__ = ("celery_app",)
