"""`python -m desktop_app` runs the same entry point as the `folio` command."""

import sys

from desktop_app.app import main

sys.exit(main())
