#!/usr/bin/env bash
# Install Folio for the current user, without root, from the unpacked tarball.
#
# Usage: ./install.sh [--default]
#   --default  also make Folio the default application for PDF and DOCX files
#              (without it, Folio is only added to "Open With" for its file types)
#
# What goes where (XDG_DATA_HOME defaults to ~/.local/share):
#   $XDG_DATA_HOME/folio-app/                        the program (replaced on upgrade)
#   ~/.local/bin/folio                               a symlink to it
#   $XDG_DATA_HOME/applications/org.folio.Folio.desktop
#   $XDG_DATA_HOME/icons/hicolor/*/apps/folio.*
#   $XDG_DATA_HOME/metainfo/org.folio.Folio.metainfo.xml
#   $XDG_DATA_HOME/man/man1/folio.1
# Every path it creates is listed in $XDG_DATA_HOME/folio-app/install-manifest, which
# uninstall.sh reads: it removes exactly those and never Folio's own data (chats, settings,
# models in ~/.local/share/Folio, ~/.config/Folio, ~/.cache/Folio, ~/.local/state/Folio).
# The program folder is "folio-app", not "folio": on a case-insensitive file system "folio"
# would be the same folder as Folio's data folder "Folio".

set -euo pipefail

APP_ID=org.folio.Folio
# Types Folio reads (the desktop entry's MimeType=). --default claims only the documents:
# claiming text/plain would also make Folio open every text file and, through MIME
# inheritance, source code and configuration files that have no default of their own.
DEFAULT_TYPES=(application/pdf application/vnd.openxmlformats-officedocument.wordprocessingml.document)

say() { echo "folio install: $*"; }
die() {
  echo "folio install: $*" >&2
  exit 1
}

make_default=0
for arg in "$@"; do
  case "$arg" in
    --default) make_default=1 ;;
    -h | --help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument '$arg' (usage: ./install.sh [--default])" ;;
  esac
done

here=$(cd "$(dirname "$0")" && pwd)
[[ -x "$here/folio/folio" && -d "$here/folio/_internal" ]] ||
  die "run this from the unpacked folio-…-linux-x86_64 folder (no folio/folio next to it)"
[[ -n "${HOME:-}" && -d "$HOME" ]] || die "HOME is not set to a folder"
((EUID != 0)) || say "note: running as root installs for root only (use the .deb for all users)"

# The XDG base directory spec says relative values are to be ignored.
data_home=${XDG_DATA_HOME:-}
[[ "$data_home" == /* ]] || data_home="$HOME/.local/share"
config_home=${XDG_CONFIG_HOME:-}
[[ "$config_home" == /* ]] || config_home="$HOME/.config"
bin_dir="$HOME/.local/bin"
app_dir="$data_home/folio-app"
# The desktop entry's Exec= line holds the path in double quotes; these characters would
# need escaping there, and no real home folder has them.
case "$app_dir" in
  *[\"\`\$\\%]* | *$'\n'*) die "unsupported character in '$app_dir' (set XDG_DATA_HOME elsewhere)" ;;
esac

manifest_new=$(mktemp "${TMPDIR:-/tmp}/folio-manifest.XXXXXX")
trap 'rm -f "$manifest_new"' EXIT
# A reinstall keeps what the first install recorded: folders it created and defaults it
# set are still its own, even though they exist now.
if [[ -f "$app_dir/install-manifest" ]]; then
  grep -E '^(dir|mime|generated) ' "$app_dir/install-manifest" >>"$manifest_new" || true
fi
record() { printf '%s %s\n' "$1" "$2" >>"$manifest_new"; }
# A shared file that a tool creates on Folio's behalf (the desktop database's cache,
# mimeapps.list): uninstall removes it again only if nothing but Folio ever used it.
record_if_missing() { [[ -e "$1" ]] || record generated "$1"; }

# mkdir -p, recording each folder it had to create (so uninstall can remove it if empty).
make_dir() {
  local dir=$1 missing=()
  while [[ ! -d "$dir" ]]; do
    missing=("$dir" "${missing[@]}")
    dir=$(dirname "$dir")
  done
  for dir in "${missing[@]}"; do
    mkdir -m 0755 "$dir"
    record dir "$dir"
  done
}

put_file() { # SRC DEST
  make_dir "$(dirname "$2")"
  install -m 0644 "$1" "$2"
  record file "$2"
}

# --- the program: copied beside the old one, then swapped in, so an interrupted upgrade
# leaves the previous version working and a running Folio keeps its open files.
make_dir "$data_home"
rm -rf "$app_dir.new" "$app_dir.old"
cp -R "$here/folio" "$app_dir.new"
install -m 0755 "$here/uninstall.sh" "$app_dir.new/uninstall.sh"
if [[ -d "$app_dir" ]]; then
  mv "$app_dir" "$app_dir.old"
fi
mv "$app_dir.new" "$app_dir"
rm -rf "$app_dir.old"
record app "$app_dir"

# --- the command
make_dir "$bin_dir"
link="$bin_dir/folio"
if [[ -L "$link" && "$(readlink "$link")" == "$app_dir/folio" ]] || [[ ! -e "$link" && ! -L "$link" ]]; then
  ln -sfn "$app_dir/folio" "$link"
  record link "$link"
else
  # Someone else's `folio` (a pip install, a development checkout): leave it alone; the
  # menu entry below runs the program by its full path anyway.
  say "warning: $link exists and is not Folio's link; left as it is"
fi

# --- desktop entry, icons, metadata, man page
desktop="$data_home/applications/$APP_ID.desktop"
make_dir "$(dirname "$desktop")"
# Exec by absolute path: ~/.local/bin is not on the PATH of every desktop session.
FOLIO_EXEC="$app_dir/folio" awk '
  /^Exec=folio( |$)/ { $0 = "Exec=\"" ENVIRON["FOLIO_EXEC"] "\"" substr($0, 11) }
  /^TryExec=/ { next }
  { print }
' "$here/share/applications/$APP_ID.desktop" >"$desktop.part"
chmod 0644 "$desktop.part"
mv "$desktop.part" "$desktop"
record file "$desktop"

while IFS= read -r -d '' icon; do
  put_file "$icon" "$data_home/icons/hicolor/${icon#"$here/share/icons/hicolor/"}"
done < <(find "$here/share/icons/hicolor" -type f -print0 | sort -z)
put_file "$here/share/metainfo/$APP_ID.metainfo.xml" "$data_home/metainfo/$APP_ID.metainfo.xml"
put_file "$here/share/man/man1/folio.1" "$data_home/man/man1/folio.1"

# --- caches: the "Open With" list (mimeinfo.cache) and the icon theme. No icon cache is
# written into the user's theme folder: a cache there would hide icons other programs add
# later without updating it. Touching the folder makes existing caches count as stale.
if command -v update-desktop-database >/dev/null; then
  record_if_missing "$data_home/applications/mimeinfo.cache"
  update-desktop-database -q "$data_home/applications" || say "warning: update-desktop-database failed"
fi
touch "$data_home/icons/hicolor"

# The default for TYPE in the user's mimeapps.list (the file xdg-mime writes), or nothing.
previous_default() {
  [[ -f "$config_home/mimeapps.list" ]] || return 0
  TYPE="$1" awk '
    /^\[/ { section = $0; next }
    section == "[Default Applications]" && index($0, ENVIRON["TYPE"] "=") == 1 {
      print substr($0, length(ENVIRON["TYPE"]) + 2); exit
    }
  ' "$config_home/mimeapps.list"
}

if ((make_default)); then
  if command -v xdg-mime >/dev/null; then
    make_dir "$config_home"
    record_if_missing "$config_home/mimeapps.list"
    for type in "${DEFAULT_TYPES[@]}"; do
      # Remember the user's previous choice so uninstall.sh can give it back; a type already
      # recorded by an earlier install keeps the choice from before that install.
      if ! grep -q "^mime $type\( \|\$\)" "$manifest_new"; then
        record mime "$type $(previous_default "$type")"
      fi
      xdg-mime default "$APP_ID.desktop" "$type"
    done
    say "Folio now opens PDF and DOCX files by default"
  else
    say "warning: xdg-mime not found (package xdg-utils); defaults not changed"
  fi
fi

sort -u "$manifest_new" -o "$manifest_new"
install -m 0644 "$manifest_new" "$app_dir/install-manifest"

say "installed Folio in $app_dir"
case ":${PATH:-}:" in
  *":$bin_dir:"*) say "run it from the applications menu, or as: folio" ;;
  *) say "run it from the applications menu, or as: $app_dir/folio ($bin_dir is not on PATH)" ;;
esac
say "uninstall: $app_dir/uninstall.sh (keeps your chats, settings and models)"
