"""A made-up vendor, "acme", defined only here: a client (`vendor.py`) and its
sandbox emulation (`sandbox.py`).  tests/test_made_up_vendor.py registers it and
drives it through the console with no edit anywhere else, which is the proof
that a vendor is one plug-in (ADDING_VENDORS.md)."""
