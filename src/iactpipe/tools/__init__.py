"""The iactpipe command-line tools (ctapipe Tools)."""

from ..io.packages import use_fast_package_listing

# every Tool run records the installed packages: ctapipe's listing costs ~0.1-0.3 s
use_fast_package_listing()
