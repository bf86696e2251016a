#!/usr/bin/env bash
# `cmake --install` puts the binary, the library, the headers, the man pages and the
# completion scripts where Debian users expect them, and the installed binary runs.
# Usage: test_install.sh BUILD_DIR
set -u
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
pass=0
fail=0
check() {  # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "not ok - $what"
    fi
}
cmake --install "$build" --prefix "$prefix" >/dev/null || { echo "install failed"; exit 1; }
check "binary installed" test -x "$prefix/bin/rk"
check "installed binary runs and finds its library" "$prefix/bin/rk" --version
check "shared library with soname" test -e "$prefix/lib/librk.so.0"
check "public header" test -f "$prefix/include/rk/index.hpp"
for page in rk rk-init rk-ingest rk-query rk-get rk-ls rk-rm rk-stats rk-index rk-export rk-import; do
    check "man page $page" test -f "$prefix/share/man/man1/$page.1"
done
check "bash completion" test -f "$prefix/share/bash-completion/completions/rk"
check "zsh completion" test -f "$prefix/share/zsh/vendor-completions/_rk"
check "fish completion" test -f "$prefix/share/fish/vendor_completions.d/rk.fish"
index=$(mktemp -d)
printf 'installed rk works\n' | "$prefix/bin/rk" -q --index "$index/i" ingest - >/dev/null
check "installed binary ingests and finds" "$prefix/bin/rk" --index "$index/i" query installed
rm -rf "$index"
echo "$pass passed, $fail failed"
((fail == 0))
