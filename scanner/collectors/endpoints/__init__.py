"""The endpoint inventory: where the machine is set up to talk to AI services, and what it contacted."""
