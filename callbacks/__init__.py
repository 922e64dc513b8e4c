"""Vendor callbacks: the delivery inbox, CallRecord/CallEvent, recording downloads."""
