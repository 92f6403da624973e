#!/usr/bin/env bash
# Remove a per-user Folio install made by install.sh.
#
# Usage: uninstall.sh   (from the unpacked tarball, or $XDG_DATA_HOME/folio-app/uninstall.sh)
#
# It removes exactly what install.sh recorded in $XDG_DATA_HOME/folio-app/install-manifest:
# the program folder, the ~/.local/bin/folio link (if it still points at Folio), the desktop
# entry, icons, metadata and man page, the folders install.sh created (when empty), and the
# "open PDF/DOCX with Folio" defaults it set (when they still name Folio).
# It never touches Folio's data: chats, settings, models, caches and logs stay where they
# are (it lists them at the end, for whoever wants them gone too).

set -euo pipefail

APP_ID=org.folio.Folio

say() { echo "folio uninstall: $*"; }
die() {
  echo "folio uninstall: $*" >&2
  exit 1
}

case "${1:-}" in
  "") ;;
  -h | --help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
  *) die "unknown argument '$1' (usage: uninstall.sh)" ;;
esac
[[ -n "${HOME:-}" && -d "$HOME" ]] || die "HOME is not set to a folder"

xdg_dir() { # VALUE DEFAULT: the XDG spec ignores relative values
  if [[ "$1" == /* ]]; then printf '%s\n' "$1"; else printf '%s\n' "$2"; fi
}
data_home=$(xdg_dir "${XDG_DATA_HOME:-}" "$HOME/.local/share")
config_home=$(xdg_dir "${XDG_CONFIG_HOME:-}" "$HOME/.config")
cache_home=$(xdg_dir "${XDG_CACHE_HOME:-}" "$HOME/.cache")
state_home=$(xdg_dir "${XDG_STATE_HOME:-}" "$HOME/.local/state")
app_dir="$data_home/folio-app"
manifest="$app_dir/install-manifest"

[[ -f "$manifest" ]] || die "no Folio install found ($manifest is missing)"

# Read everything first: the manifest lives in the folder that goes away.
files=() links=() dirs=() types=() previous=() generated=()
while read -r kind path; do
  case "$kind" in
    file) files+=("$path") ;;
    link) links+=("$path") ;;
    dir) dirs+=("$path") ;;
    mime) # "TYPE PREVIOUS-DEFAULT" (the previous default may be empty)
      types+=("${path%% *}")
      if [[ "$path" == *" "* ]]; then previous+=("${path#* }"); else previous+=(""); fi ;;
    generated) generated+=("$path") ;;
    app) ;; # always $app_dir, removed below
  esac
done <"$manifest"

for path in "${files[@]}"; do
  if [[ -f "$path" && ! -L "$path" ]]; then rm -f "$path"; fi
done
for path in "${links[@]}"; do
  # Only Folio's own link: if the user pointed it elsewhere since, it is theirs now.
  if [[ -L "$path" && "$(readlink "$path")" == "$app_dir/folio" ]]; then rm -f "$path"; fi
done

# Defaults: each "TYPE=org.folio.Folio.desktop" line install.sh's xdg-mime wrote goes back
# to the user's previous choice (or goes away if there was none); nothing else changes, so
# other choices in mimeapps.list survive. A type whose default the user has since changed to
# another application no longer names Folio and stays as it is.
mimeapps="$config_home/mimeapps.list"
if ((${#types[@]})) && [[ -f "$mimeapps" ]]; then
  restore=""
  for i in "${!types[@]}"; do restore+="${types[$i]}=${previous[$i]}"$'\n'; done
  FOLIO_RESTORE="$restore" FOLIO_ID="$APP_ID.desktop" awk '
    BEGIN {
      n = split(ENVIRON["FOLIO_RESTORE"], lines, "\n")
      for (i = 1; i <= n; i++) {
        eq = index(lines[i], "=")
        if (eq) prev[substr(lines[i], 1, eq - 1)] = substr(lines[i], eq + 1)
      }
    }
    /^\[/ { section = $0 }
    section == "[Default Applications]" {
      eq = index($0, "=")
      if (eq) {
        key = substr($0, 1, eq - 1); value = substr($0, eq + 1)
        if ((key in prev) && (value == ENVIRON["FOLIO_ID"] || value == ENVIRON["FOLIO_ID"] ";")) {
          if (prev[key] != "") print key "=" prev[key]
          next
        }
      }
    }
    { print }
  ' "$mimeapps" >"$mimeapps.folio-tmp"
  # Keep the original file (mode, links) and only replace its contents.
  cat "$mimeapps.folio-tmp" >"$mimeapps"
  rm -f "$mimeapps.folio-tmp"
fi

# The program folder: a last check that it is the installer's folder before rm -rf.
if [[ "$app_dir" == */folio-app && -x "$app_dir/folio" && -f "$manifest" ]]; then
  rm -rf "$app_dir"
fi

if command -v update-desktop-database >/dev/null && [[ -d "$data_home/applications" ]]; then
  update-desktop-database -q "$data_home/applications" || true
fi

# Shared files that only exist because of the install: gone once nothing else uses them
# (no other desktop entry for the cache, no other line with a choice in mimeapps.list).
if ((${#generated[@]})); then
  for path in "${generated[@]}"; do
    [[ -f "$path" ]] || continue
    case "${path##*/}" in
      mimeinfo.cache)
        if ! compgen -G "${path%/*}/*.desktop" >/dev/null; then rm -f "$path"; fi ;;
      mimeapps.list)
        if ! grep -q '=' "$path"; then rm -f "$path"; fi ;;
    esac
  done
fi

# Folders install.sh created, deepest first, only once empty (rmdir refuses otherwise).
if ((${#dirs[@]})); then
  while IFS= read -r dir; do
    rmdir "$dir" 2>/dev/null || true
  done < <(printf '%s\n' "${dirs[@]}" | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-)
fi

if [[ -d "$data_home/icons/hicolor" ]]; then touch "$data_home/icons/hicolor"; fi

say "removed Folio from $app_dir"
kept=()
for dir in "$data_home/Folio" "$config_home/Folio" "$cache_home/Folio" "$state_home/Folio"; do
  [[ -e "$dir" ]] && kept+=("$dir")
done
if ((${#kept[@]})); then
  say "kept your chats, settings and models:"
  printf '  %s\n' "${kept[@]}"
  say "delete those folders yourself if you want them gone too"
fi
