"""The console's date and time formats (FORMAT_MODULE_PATH), one set for every page.

Django localizes dates by LANGUAGE_CODE and a locale's formats win over the
DATETIME_FORMAT setting, so the "en" formats are overridden here: pages, lists
and the admin all write 2026-11-30 05:25, in TIME_ZONE.
"""
