import os

import pytest
from hypothesis import settings

# CI replays the same examples on every run (a landing must not hinge on a lucky draw); local
# runs keep drawing new ones, which is how the fuzzers found the parser's bugs.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
