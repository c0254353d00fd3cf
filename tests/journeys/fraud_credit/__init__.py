"""A six-stage, two-model journey (fraud screen + credit score), as a user would write one."""
