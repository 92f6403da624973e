"""Info.plist entries for Folio.app, as a function of the version.

Why a Python function and not a static Info.plist: PyInstaller's BUNDLE writes the plist
itself (executable name, icon file, package type) and merges a dict given as `info_plist=`
over its defaults; the spec (installers/common/folio.spec) passes `info_plist(VERSION)`, so
the version comes from desktop_app/__init__.py like everywhere else, and this dict is what
the tests check.

The document types make Finder offer Folio under "Open With" for PDF, DOCX, plain text and
Markdown, as a Viewer with LSHandlerRank Alternate: Folio never claims to be the default
app for them. Markdown's UTI is declared as imported (not exported: Folio does not own it)
so macOS versions that do not know `net.daringfireball.markdown` still map `.md` to it.

`python installers/macos/info_plist.py VERSION` prints the dict as plist XML (to inspect,
or lint with `plutil -lint`).
"""

from __future__ import annotations

import plistlib
import sys
from typing import Any

BUNDLE_ID = "org.folio.Folio"
APP_NAME = "Folio"
MINIMUM_MACOS = "12.0"

#: (type name, UTI) for every document type Folio opens.
DOCUMENT_TYPES: tuple[tuple[str, str], ...] = (
    ("PDF document", "com.adobe.pdf"),
    ("Word document", "org.openxmlformats.wordprocessingml.document"),
    ("Plain text", "public.plain-text"),
    ("Markdown document", "net.daringfireball.markdown"),
)

_MARKDOWN_DECLARATION: dict[str, Any] = {
    "UTTypeIdentifier": "net.daringfireball.markdown",
    "UTTypeDescription": "Markdown document",
    "UTTypeConformsTo": ["public.plain-text"],
    "UTTypeReferenceURL": "https://daringfireball.net/projects/markdown/",
    "UTTypeTagSpecification": {
        "public.filename-extension": ["md", "markdown"],
        "public.mime-type": ["text/markdown"],
    },
}


def _document_type(name: str, uti: str) -> dict[str, Any]:
    return {
        "CFBundleTypeName": name,
        "CFBundleTypeRole": "Viewer",
        "LSHandlerRank": "Alternate",
        "LSItemContentTypes": [uti],
    }


def info_plist(version: str) -> dict[str, Any]:
    """The Info.plist keys Folio sets on top of PyInstaller's defaults."""
    if not version or any(ch.isspace() for ch in version):
        raise ValueError(f"not a version string: {version!r}")
    return {
        "CFBundleIdentifier": BUNDLE_ID,
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "LSMinimumSystemVersion": MINIMUM_MACOS,
        "NSHighResolutionCapable": True,
        "LSApplicationCategoryType": "public.app-category.productivity",
        "NSHumanReadableCopyright": "MIT License",
        "CFBundleDocumentTypes": [_document_type(name, uti) for name, uti in DOCUMENT_TYPES],
        "UTImportedTypeDeclarations": [_MARKDOWN_DECLARATION],
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: info_plist.py VERSION", file=sys.stderr)
        return 2
    sys.stdout.buffer.write(plistlib.dumps(info_plist(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
