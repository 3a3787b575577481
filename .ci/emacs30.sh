#!/usr/bin/env bash
# Unpack Emacs 30 (with its built-in eglot) from Debian's bookworm-backports into
# .ci/emacs30, without installing it: the editor test drives it beside the system
# Emacs 28 + elpa eglot. Its shared libraries come with Emacs 28's packages, and
# libtree-sitter0 is unpacked beside it. Every download is checked by SHA-256.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.ci/emacs30
if [ -x "$dest/emacs" ] && "$dest/emacs" --version 2>/dev/null | grep -q "^GNU Emacs 30.1"; then
  exit 0
fi
mirror=http://deb.debian.org/debian/pool/main
debs=(
  "e/emacs/emacs-nox_30.1+1-6~bpo12+1_amd64.deb c6ac445057492352570a74e08db35f38044919f5f7ad75ba7cac100b4bb0e2fb"
  "e/emacs/emacs-bin-common_30.1+1-6~bpo12+1_amd64.deb 08f553e4873922299857be6c43f5dd97e1f439ab142c5d25b2900d17827c70db"
  "e/emacs/emacs-common_30.1+1-6~bpo12+1_all.deb 4c24ad0a35d2e53872ab0c182b305d0098aa8a4670682a6a39c7f7e0e70f5ff6"
  "t/tree-sitter/libtree-sitter0_0.20.7-1_amd64.deb cac5e60ef6d223162ab5115ca4a47b003dd43af36ad64bc0cd40266b47f023f9"
)
rm -rf "$dest" && mkdir -p "$dest/debs"
for entry in "${debs[@]}"; do
  path=${entry% *} sum=${entry#* }
  file="$dest/debs/$(basename "$path")"
  curl -fsSL -o "$file" "$mirror/$path"
  echo "$sum  $file" | sha256sum -c --quiet
  dpkg-deb -x "$file" "$dest/root"
done
rm -rf "$dest/debs"
cat > "$dest/emacs" <<'WRAPPER'
#!/bin/sh
# Emacs 30 from the unpacked tree beside this script.
R="$(dirname "$(readlink -f "$0")")/root"
export LD_LIBRARY_PATH="$R/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export EMACSLOADPATH="$R/usr/share/emacs/30.1/lisp"
export EMACSDATA="$R/usr/share/emacs/30.1/etc"
export EMACSPATH="$R/usr/libexec/emacs/30.1/x86_64-linux-gnu"
exec "$R/usr/bin/emacs-nox" --dump-file="$(ls "$R"/usr/libexec/emacs/30.1/x86_64-linux-gnu/*.pdmp)" "$@"
WRAPPER
chmod +x "$dest/emacs"
"$dest/emacs" --version | head -1
