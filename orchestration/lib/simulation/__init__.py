"""The closed loop: does following the platform's feed cut stockouts? See :mod:`.run`."""
