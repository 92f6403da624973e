#!/usr/bin/env bash
# Build folio_<version>-<revision>_amd64.deb from a PyInstaller onedir bundle.
#
# Usage: installers/linux/build_deb.sh BUNDLE_DIR OUT_DIR [--revision N] [--no-strip]
#   BUNDLE_DIR  PyInstaller's dist/folio (the `folio` executable and _internal/)
#   OUT_DIR     where the .deb goes (created if missing)
#   --revision  Debian revision (default 1): the package is not native, so its version is
#               <upstream>-<revision> and its Debian changelog is changelog.Debian.gz
#   --no-strip  keep debug symbols in the bundled shared objects
# Environment:
#   FOLIO_MAINTAINER   the Maintainer field (default: the Folio developers' address)
#   FOLIO_DEB_COMPRESS xz (default: every dpkg reads it), zstd or gzip
#   FOLIO_ICONS_DIR    pre-rendered icons (see lib.sh); else make_icons.py renders them
#   SOURCE_DATE_EPOCH  timestamps inside the package (default: the last commit's time)
#
# Layout: the bundle under /opt/folio (it carries its own Python and Qt, so it cannot be
# split over /usr/lib like a Debian-built program), /usr/bin/folio a symlink to it, and the
# desktop entry, icons, metainfo, man page and docs where Debian expects them.
# No maintainer scripts: the desktop database, icon cache and MIME cache are refreshed by
# the dpkg file triggers of desktop-file-utils, gtk-update-icon-cache and shared-mime-info
# (Debian policy 9.9 relies on them), and removal must leave users' home folders alone.

set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
  exit 2
}

revision=1
strip_objects=1
positional=()
while (($#)); do
  case "$1" in
    --revision) revision=${2:?--revision needs a value}; shift 2 ;;
    --no-strip) strip_objects=0; shift ;;
    -h | --help) usage ;;
    -*) die "unknown option $1" ;;
    *) positional+=("$1"); shift ;;
  esac
done
((${#positional[@]} == 2)) || usage
bundle=${positional[0]}
out=${positional[1]}
[[ "$revision" =~ ^[0-9A-Za-z.+~]+$ ]] || die "bad --revision '$revision'"

for tool in dpkg-deb readelf strip gzip md5sum; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install dpkg binutils gzip coreutils)"
done

folio_check_bundle "$bundle"
version=$(folio_version)
folio_check_metainfo_version "$version"
debversion="$version-$revision"
maintainer=${FOLIO_MAINTAINER:-The Folio developers <folio-maintainers@users.noreply.github.com>}
compress=${FOLIO_DEB_COMPRESS:-xz}
SOURCE_DATE_EPOCH=$(folio_source_date_epoch)
# dpkg-deb stamps the ar members with it; the files' own mtimes are set below (dpkg 1.21,
# Debian 12, does not clamp them): same inputs, same .deb bytes.
export SOURCE_DATE_EPOCH

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/folio-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"
app="$root/opt/folio"

# --- the bundle -------------------------------------------------------------------------
mkdir -p "$root/opt"
folio_copy_bundle "$bundle" "$app" "$strip_objects"
mapfile -d '' elf_files < <(folio_elf_files "$app")

# --- dependencies -----------------------------------------------------------------------
# Fixed part: what Qt's xcb platform plugin and Qt GUI take from the system. PyInstaller
# leaves these out of bundles (libGL/libEGL/libxcb* are on its exclusion list because they
# must match the user's drivers and X server) or never sees them (the plugin is dlopen()ed).
# libglib2.0-0 became libglib2.0-0t64 in Debian 13 / Ubuntu 24.04; the alternative keeps the
# package installable on both sides of that rename.
depends=(
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
  libxcb-randr0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libxkbcommon0
  libegl1 libgl1 libfontconfig1 libfreetype6 libdbus-1-3 "libglib2.0-0t64 | libglib2.0-0"
)
recommends=(libvulkan1 mesa-vulkan-drivers)

# Measured part: every library some bundled ELF file needs and the bundle does not contain.
declare -A bundled=() needed_by=() unmapped=()
glibc_versions="" glibcxx_versions=""
for f in "${elf_files[@]}"; do
  bundled[${f##*/}]=1
  dyn=$(readelf -dW "$f" 2>/dev/null || true)
  soname=$(sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p' <<<"$dyn")
  [[ -n "$soname" ]] && bundled[$soname]=1
  while read -r lib; do
    [[ -n "$lib" ]] && needed_by[$lib]+="${f#"$app"/} "
  done < <(sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' <<<"$dyn")
  # Symbol versions asked of glibc and libstdc++: the highest set the minimum versions.
  vers=$(readelf -VW "$f" 2>/dev/null | grep -o 'Name: GLIBC\(XX\)\{0,1\}_[0-9.]*' || true)
  glibc_versions+=$(sed -n 's/^Name: GLIBC_//p' <<<"$vers")$'\n'
  glibcxx_versions+=$(sed -n 's/^Name: GLIBCXX_3\.4\.//p' <<<"$vers")$'\n'
done
glibc_max=$(grep -E '^[0-9]+\.[0-9]+' <<<"$glibc_versions" | sort -uV | tail -n 1 || true)
glibcxx_max=$(grep -E '^[0-9]+$' <<<"$glibcxx_versions" | sort -un | tail -n 1 || true)
glibc_max=${glibc_max:-2.17}
glibcxx_max=${glibcxx_max:-0}

# First GCC release whose libstdc++ has GLIBCXX_3.4.N (libstdc++ ABI docs); rounding up
# only ever asks for a newer libstdc++6 than strictly needed, never an older one.
glibcxx_gcc() {
  local n=$1
  if ((n <= 28)); then echo 10
  elif ((n == 29)); then echo 11
  elif ((n == 30)); then echo 12
  elif ((n <= 32)); then echo 13.2
  elif ((n == 33)); then echo 14
  else echo ""
  fi
}

# A library's file is "loaded by name only" when no bundled ELF lists it as NEEDED: ggml's
# backends (GGML_BACKEND_DL) and Qt's plugins are dlopen()ed. What only such a leaf needs is
# optional at run time.
is_leaf_only() {
  local user name lib=$1
  for user in ${needed_by[$lib]}; do
    name=${user##*/}
    [[ -n "${needed_by[$name]:-}" ]] && return 1
  done
  return 0
}

vulkan_needed=0
for lib in "${!needed_by[@]}"; do
  [[ -n "${bundled[$lib]:-}" ]] && continue
  case "$lib" in
    libc.so.6 | libm.so.6 | libdl.so.2 | libpthread.so.0 | librt.so.1 | libutil.so.1 | \
      libresolv.so.2 | libanl.so.1 | libmvec.so.1 | ld-linux-x86-64.so.2 | libBrokenLocale.so.1)
      depends+=("libc6 (>= $glibc_max)") ;;
    libcrypt.so.1) depends+=(libcrypt1) ;;
    libstdc++.so.6)
      gcc=$(glibcxx_gcc "$glibcxx_max")
      depends+=("libstdc++6${gcc:+ (>= $gcc)}") ;;
    libgcc_s.so.1) depends+=(libgcc-s1) ;;
    libgomp.so.1) depends+=(libgomp1) ;;
    libz.so.1) depends+=(zlib1g) ;;
    libGL.so.1) depends+=(libgl1) ;;
    libEGL.so.1) depends+=(libegl1) ;;
    libGLX.so.0) depends+=(libglx0) ;;
    libOpenGL.so.0) depends+=(libopengl0) ;;
    libgbm.so.1) depends+=(libgbm1) ;;
    libdrm.so.2) depends+=(libdrm2) ;;
    libfontconfig.so.1) depends+=(libfontconfig1) ;;
    libfreetype.so.6) depends+=(libfreetype6) ;;
    libdbus-1.so.3) depends+=(libdbus-1-3) ;;
    libglib-2.0.so.0 | libgobject-2.0.so.0 | libgio-2.0.so.0 | libgthread-2.0.so.0 | libgmodule-2.0.so.0)
      depends+=("libglib2.0-0t64 | libglib2.0-0") ;;
    libxkbcommon.so.0) depends+=(libxkbcommon0) ;;
    libxkbcommon-x11.so.0) depends+=(libxkbcommon-x11-0) ;;
    libX11.so.6) depends+=(libx11-6) ;;
    libX11-xcb.so.1) depends+=(libx11-xcb1) ;;
    libXext.so.6) depends+=(libxext6) ;;
    libXrender.so.1) depends+=(libxrender1) ;;
    libXi.so.6) depends+=(libxi6) ;;
    libSM.so.6) depends+=(libsm6) ;;
    libICE.so.6) depends+=(libice6) ;;
    libxcb.so.1) depends+=(libxcb1) ;;
    libxcb-*.so.[0-9]*)
      # Debian names libxcb-<ext>.so.<N> libxcb-<ext><N> (libxcb-xfixes.so.0 -> libxcb-xfixes0).
      base=${lib%%.so.*}
      depends+=("$base${lib##*.so.}") ;;
    libwayland-client.so.0) depends+=(libwayland-client0) ;;
    libwayland-cursor.so.0) depends+=(libwayland-cursor0) ;;
    libwayland-egl.so.1) depends+=(libwayland-egl1) ;;
    libudev.so.1) depends+=(libudev1) ;;
    libvulkan.so.1)
      if is_leaf_only "$lib"; then vulkan_needed=1; else vulkan_needed=2; fi ;;
    *) unmapped[$lib]=1 ;;
  esac
done
if ((vulkan_needed == 2)); then
  # Some library that is loaded at start links Vulkan directly: without libvulkan1 the
  # program would not start at all, so it cannot stay a recommendation.
  depends+=(libvulkan1)
  recommends=(mesa-vulkan-drivers)
fi
if ((${#unmapped[@]})); then
  # Not fatal (the list above cannot know every library a future wheel links), but the
  # package would fail to start where these are missing: add them to the case above.
  for lib in "${!unmapped[@]}"; do
    note "warning: $lib is needed by ${needed_by[$lib]% } but neither bundled nor in Depends"
  done
fi

# One entry per package, sorted; a versioned entry wins over the same package unversioned.
declare -A dep_of=()
for dep in "${depends[@]}"; do
  name=${dep%% *}
  if [[ -z "${dep_of[$name]:-}" || "$dep" == *"("* ]]; then dep_of[$name]=$dep; fi
done
depends_field=$(for name in "${!dep_of[@]}"; do echo "${dep_of[$name]}"; done | LC_ALL=C sort | paste -sd, - | sed 's/,/, /g')
recommends_field=$(printf '%s\n' "${recommends[@]}" | paste -sd, - | sed 's/,/, /g')

# --- desktop integration ----------------------------------------------------------------
install -d -m 0755 "$root/usr/bin"
# A symlink, not a wrapper: PyInstaller finds _internal/ through /proc/self/exe, which
# resolves the link, and Qt takes the window class (StartupWMClass=folio) from argv[0].
ln -s /opt/folio/folio "$root/usr/bin/folio"
install -D -m 0644 "$FOLIO_DESKTOP" "$root/usr/share/applications/$FOLIO_APP_ID.desktop"
install -D -m 0644 "$FOLIO_METAINFO" "$root/usr/share/metainfo/$FOLIO_APP_ID.metainfo.xml"
folio_icons "$work/icons"
folio_install_icons "$work/icons" "$root/usr/share/icons/hicolor"

# --- documentation ----------------------------------------------------------------------
doc="$root/usr/share/doc/folio"
install -d -m 0755 "$doc" "$root/usr/share/man/man1" "$root/usr/share/lintian/overrides"
install -m 0644 "$FOLIO_LINUX/copyright" "$doc/copyright"
date_rfc=$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")
date_man=$(date -u +%Y-%m-%d -d "@$SOURCE_DATE_EPOCH")
{
  echo "folio ($debversion) unstable; urgency=medium"
  echo
  echo "  * Folio $version, packaged from the PyInstaller bundle."
  echo
  echo " -- $maintainer  $date_rfc"
} | gzip -9n >"$doc/changelog.Debian.gz"
sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$date_man/" "$FOLIO_LINUX/folio.1" |
  gzip -9n >"$root/usr/share/man/man1/folio.1.gz"
install -m 0644 "$FOLIO_LINUX/lintian-overrides" "$root/usr/share/lintian/overrides/folio"
chmod 0644 "$doc/changelog.Debian.gz" "$root/usr/share/man/man1/folio.1.gz"

# --- control ----------------------------------------------------------------------------
install -d -m 0755 "$root/DEBIAN"
# Installed-Size is in KiB, counted the way dpkg-gencontrol does (apparent sizes of files
# and links, rounded up per file), so apt's disk-space check is right.
folio_set_mtimes "$root" "$SOURCE_DATE_EPOCH"
installed_kib=$(find "$root" -path "$root/DEBIAN" -prune -o \( -type f -o -type l \) -printf '%s\n' |
  awk '{ kib += int(($1 + 1023) / 1024) } END { print kib + 0 }')
cat >"$root/DEBIAN/control" <<EOF
Package: folio
Version: $debversion
Architecture: amd64
Maintainer: $maintainer
Installed-Size: $installed_kib
Depends: $depends_field
Recommends: $recommends_field
Section: utils
Priority: optional
Description: ask questions about whole documents with a local LLM, offline
 Folio answers questions about whole documents (PDF, DOCX, text and
 Markdown files) with a language model that runs inside the application.
 Documents never leave the computer; the network is used only to download
 a model when asked to.
 .
 The package ships a self-contained build (its own Python, Qt and
 llama.cpp) under /opt/folio. The GPU is used through Vulkan when a driver
 is installed, the CPU otherwise.
EOF
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
  xargs -0r md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
folio_set_mtimes "$root/DEBIAN" "$SOURCE_DATE_EPOCH"

deb="$out/folio_${debversion}_amd64.deb"
# --root-owner-group: files belong to root in the package whoever builds it (no fakeroot).
dpkg-deb --root-owner-group -Z"$compress" --build "$root" "$deb" >&2
note "built $deb ($(du -h "$deb" | cut -f1), installed $installed_kib KiB)"
printf '%s\n' "$deb"
