"""What the test directories share: factories, assertions, test material and the suite plugins.

Fixtures live in each directory's `conftest.py`; they delegate to the factories here. Test
modules import from this package, never from one another.
"""
