# Shared by build_deb.sh and build_tarball.sh (sourced, not run).
# shellcheck shell=bash disable=SC2034  # the variables are used by the scripts that source it
#
# Why a shared file: both packages must agree on the version, the icon set and the
# metadata files, and both must refuse the same broken inputs.

FOLIO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FOLIO_LINUX="$FOLIO_ROOT/installers/linux"
FOLIO_APP_ID=org.folio.Folio
FOLIO_DESKTOP="$FOLIO_ROOT/resources/$FOLIO_APP_ID.desktop"
FOLIO_METAINFO="$FOLIO_ROOT/resources/$FOLIO_APP_ID.metainfo.xml"
# Sizes make_icons.py renders; 48/128/256 and scalable are the ones desktops must find.
FOLIO_ICON_SIZES="16 32 48 64 128 256 512"
FOLIO_ICON_REQUIRED="48 128 256"

die() {
  echo "${0##*/}: $*" >&2
  exit 1
}

note() {
  echo "${0##*/}: $*" >&2
}

# The version comes from the source, not from the bundle: the bundle's own `folio --version`
# would need the bundled Python to start, which a packaging host may not manage (no display,
# other glibc), and reading one line is enough.
folio_version() {
  local v
  v=$(sed -n 's/^__version__ = "\([^"]*\)"$/\1/p' "$FOLIO_ROOT/desktop_app/__init__.py")
  [[ -n "$v" ]] || die "no __version__ in desktop_app/__init__.py"
  printf '%s\n' "$v"
}

# Software centres show the newest <release>; a package whose metainfo names an older
# version would advertise the wrong release notes, so building stops instead.
folio_check_metainfo_version() {
  local want=$1 got
  got=$(sed -n 's/.*<release version="\([^"]*\)".*/\1/p' "$FOLIO_METAINFO" | head -n 1)
  [[ "$got" == "$want" ]] ||
    die "$FOLIO_METAINFO: first <release> is '$got', desktop_app says '$want'; add a <release>"
}

# Reproducible timestamps (gzip headers, man page date, tar and deb members): the last
# commit's time, unless the caller set SOURCE_DATE_EPOCH (the reproducible-builds convention).
folio_source_date_epoch() {
  if [[ -n "${SOURCE_DATE_EPOCH:-}" ]]; then
    printf '%s\n' "$SOURCE_DATE_EPOCH"
  elif git -C "$FOLIO_ROOT" log -1 --format=%ct >/dev/null 2>&1; then
    git -C "$FOLIO_ROOT" log -1 --format=%ct
  else
    date +%s
  fi
}

folio_check_bundle() {
  local bundle=$1
  [[ -d "$bundle" ]] || die "$bundle: not a directory (expected PyInstaller's dist/folio)"
  [[ -f "$bundle/folio" && -x "$bundle/folio" ]] || die "$bundle/folio: missing or not executable"
  [[ -d "$bundle/_internal" ]] || die "$bundle/_internal: missing (not a PyInstaller onedir bundle?)"
}

# Writes DEST/hicolor/<N>x<N>/apps/folio.png and DEST/hicolor/scalable/apps/folio.svg.
# FOLIO_ICONS_DIR: an already rendered tree with that layout (CI renders once for all
# packages; tests render without PySide6). Otherwise make_icons.py renders them, with the
# Python that has PySide6: $PYTHON, else the checkout's .venv, else python3.
folio_icons() {
  local dest=$1 python size
  mkdir -p "$dest"
  if [[ -n "${FOLIO_ICONS_DIR:-}" ]]; then
    [[ -d "$FOLIO_ICONS_DIR/hicolor" ]] || die "FOLIO_ICONS_DIR=$FOLIO_ICONS_DIR has no hicolor/"
    cp -R "$FOLIO_ICONS_DIR/hicolor" "$dest/"
  else
    python=${PYTHON:-}
    if [[ -z "$python" ]]; then
      if [[ -x "$FOLIO_ROOT/.venv/bin/python" ]]; then
        python="$FOLIO_ROOT/.venv/bin/python"
      else
        python=python3
      fi
    fi
    "$python" "$FOLIO_ROOT/installers/common/make_icons.py" "$dest" >&2 ||
      die "make_icons.py failed (it needs PySide6: set PYTHON, or FOLIO_ICONS_DIR)"
  fi
  for size in $FOLIO_ICON_REQUIRED; do
    [[ -f "$dest/hicolor/${size}x${size}/apps/folio.png" ]] || die "icon ${size}x${size} missing"
  done
  [[ -f "$dest/hicolor/scalable/apps/folio.svg" ]] || die "scalable icon missing"
}

# Installs the icon tree from folio_icons into a hicolor theme directory, with plain modes
# (0644 files, 0755 folders) whatever the renderer's umask was.
folio_install_icons() {
  local src=$1 theme=$2 size
  for size in $FOLIO_ICON_SIZES; do
    if [[ -f "$src/hicolor/${size}x${size}/apps/folio.png" ]]; then
      install -D -m 0644 "$src/hicolor/${size}x${size}/apps/folio.png" \
        "$theme/${size}x${size}/apps/folio.png"
    fi
  done
  install -D -m 0644 "$src/hicolor/scalable/apps/folio.svg" "$theme/scalable/apps/folio.svg"
}

# PyInstaller copies files with whatever modes they had in site-packages (some wheels ship
# 0775 data files, some .so files lack o+r). Packages must not depend on the builder's umask:
# folders 0755; files 0644, except ELF executables and scripts with a #! line, which stay
# 0755 when they were executable. Shared objects lose the x bit: the loader does not need it.
folio_normalize_modes() {
  local tree=$1 f magic
  find "$tree" -type d -exec chmod 0755 {} +
  find "$tree" -type f ! -perm -u+x -exec chmod 0644 {} +
  while IFS= read -r -d '' f; do
    magic=$(head -c 4 "$f" | od -An -c | tr -d ' ')
    case "$magic" in
      177ELF)
        case "${f##*/}" in
          *.so | *.so.*) chmod 0644 "$f" ;;
          *) chmod 0755 "$f" ;;
        esac
        ;;
      '#!'*) chmod 0755 "$f" ;;
      *) chmod 0644 "$f" ;;
    esac
  done < <(find "$tree" -type f -perm -u+x -print0)
}

# NUL-separated list of the ELF files below a tree (by magic number, not by name: Qt plugins,
# Python extension modules and versioned libraries all look different).
folio_elf_files() {
  local tree=$1 f
  while IFS= read -r -d '' f; do
    if [[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" == 177ELF ]]; then
      printf '%s\0' "$f"
    fi
  done < <(find "$tree" -type f -print0)
}

# Debug symbols roughly double the size of some bundled libraries (a locally built llama.cpp,
# pyenv's libpython) and Debian's tools reject them. Strip them the way dh_strip does, with
# two exceptions:
# - the top-level `folio` executable: PyInstaller appends its archive (the frozen Python
#   code) to it, and strip would cut that archive off;
# - any file whose segments strip would move. Libraries edited with patchelf (auditwheel's
#   numpy.libs, the repaired llama.cpp wheel) are laid out in a way binutils rewrites, and
#   the result can fail to load ("ELF load command address/offset not page-aligned"). Only
#   symbol and debug sections, which the loader never maps, may go: a stripped copy is kept
#   only when its program headers are exactly the original's.
folio_program_headers() {
  readelf -lW "$1" 2>/dev/null | grep -E '^ +[A-Z_]+ +0x' || true
}

folio_strip_bundle() {
  local tree=$1 f tmp kept=() stripped=0
  tmp=$(mktemp "${TMPDIR:-/tmp}/folio-strip.XXXXXX")
  while IFS= read -r -d '' f; do
    [[ "$f" == "$tree/folio" ]] && continue
    if ! strip --remove-section=.comment --remove-section=.note --strip-unneeded \
      -o "$tmp" "$f" 2>/dev/null; then
      kept+=("${f#"$tree"/}")
      continue
    fi
    if cmp -s "$tmp" "$f"; then
      continue # nothing to strip
    elif [[ "$(folio_program_headers "$tmp")" == "$(folio_program_headers "$f")" ]]; then
      cat "$tmp" >"$f" # in place: keeps the file's mode and any hard links
      stripped=$((stripped + 1))
    else
      kept+=("${f#"$tree"/}")
    fi
  done < <(folio_elf_files "$tree")
  rm -f "$tmp"
  note "stripped $stripped ELF files; ${#kept[@]} left as they are (strip would move their segments or failed)"
  if ((${#kept[@]})); then
    printf '  %s\n' "${kept[@]}" >&2
  fi
}

# Every file and link in a tree gets the same timestamp (SOURCE_DATE_EPOCH), so that two
# builds of the same inputs give the same archive bytes.
folio_set_mtimes() {
  find "$1" -exec touch -h -d "@$2" {} +
}

# The bundle as both packages ship it: copied with its own symlinks (PyInstaller links some
# library names to one file), modes normalized, stripped unless STRIP is 0.
folio_copy_bundle() {
  local src=$1 dest=$2 strip=$3
  cp -a "$src" "$dest"
  folio_normalize_modes "$dest"
  if ((strip)); then
    folio_strip_bundle "$dest"
  fi
}
