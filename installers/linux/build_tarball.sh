#!/usr/bin/env bash
# Build folio-<version>-linux-x86_64.tar.gz from a PyInstaller onedir bundle: for users
# without root, or on distributions that do not take .deb packages.
#
# Usage: installers/linux/build_tarball.sh BUNDLE_DIR OUT_DIR [--no-strip]
#   BUNDLE_DIR  PyInstaller's dist/folio (the `folio` executable and _internal/)
#   OUT_DIR     where the .tar.gz goes (created if missing)
#   --no-strip  keep debug symbols in the bundled shared objects
# Environment: FOLIO_ICONS_DIR and SOURCE_DATE_EPOCH as for build_deb.sh.
#
# The archive holds one folder, folio-<version>-linux-x86_64/, so that unpacking it never
# scatters files into the current directory:
#   folio/                  the bundle
#   install.sh uninstall.sh per-user install into ~/.local (see install.sh)
#   share/applications/     the desktop entry (install.sh points its Exec at the bundle)
#   share/icons/hicolor/    the icons
#   share/metainfo/         the AppStream metadata
#   share/man/man1/folio.1  the man page
#   COPYRIGHT               licence of Folio and pointers to the bundled components'

set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
  exit 2
}

strip_objects=1
positional=()
while (($#)); do
  case "$1" in
    --no-strip) strip_objects=0; shift ;;
    -h | --help) usage ;;
    -*) die "unknown option $1" ;;
    *) positional+=("$1"); shift ;;
  esac
done
((${#positional[@]} == 2)) || usage
bundle=${positional[0]}
out=${positional[1]}

for tool in tar gzip strip; do
  command -v "$tool" >/dev/null || die "$tool not found"
done

folio_check_bundle "$bundle"
version=$(folio_version)
folio_check_metainfo_version "$version"
SOURCE_DATE_EPOCH=$(folio_source_date_epoch)

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/folio-tar.XXXXXX")
trap 'rm -rf "$work"' EXIT
name="folio-$version-linux-x86_64"
top="$work/$name"
mkdir -p "$top"

folio_copy_bundle "$bundle" "$top/folio" "$strip_objects"

install -m 0755 "$FOLIO_LINUX/install.sh" "$FOLIO_LINUX/uninstall.sh" "$top/"
install -D -m 0644 "$FOLIO_DESKTOP" "$top/share/applications/$FOLIO_APP_ID.desktop"
install -D -m 0644 "$FOLIO_METAINFO" "$top/share/metainfo/$FOLIO_APP_ID.metainfo.xml"
folio_icons "$work/icons"
folio_install_icons "$work/icons" "$top/share/icons/hicolor"
install -d -m 0755 "$top/share/man/man1"
sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$(date -u +%Y-%m-%d -d "@$SOURCE_DATE_EPOCH")/" \
  "$FOLIO_LINUX/folio.1" >"$top/share/man/man1/folio.1"
chmod 0644 "$top/share/man/man1/folio.1"
install -m 0644 "$FOLIO_LINUX/copyright" "$top/COPYRIGHT"
chmod 0755 "$top" "$top/share"

# Same inputs, same bytes: sorted names, one owner, one timestamp, no name/time in gzip.
tarball="$out/$name.tar.gz"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
  --format=gnu -C "$work" -cf - "$name" | gzip -n >"$tarball.part"
mv "$tarball.part" "$tarball"
note "built $tarball ($(du -h "$tarball" | cut -f1))"
printf '%s\n' "$tarball"
