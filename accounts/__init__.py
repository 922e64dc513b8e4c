"""Vendor accounts, ccp sub-accounts and the X-number pool, plus users' roles."""
