"""Privacy-number bindings (AXB, XA, cyj): allocation, state machine, vendor tasks."""
