"""The onboarding assistant: a folder of a platform's deliveries in, a reviewed sources file out.

``naming`` groups the files and finds the day in their names, ``detect`` tells format,
encoding, delimiter and header row, ``mapping`` matches headers to canonical columns with
a confidence, ``proposal`` puts it together as a commented platform file, and ``dry_run``
ingests the files as proposed on a throwaway lake and says what would land.
"""
