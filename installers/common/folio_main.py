"""Entry point PyInstaller freezes: the same `main()` as the `folio` console script."""

import sys

from desktop_app.app import main

if __name__ == "__main__":
    sys.exit(main())
