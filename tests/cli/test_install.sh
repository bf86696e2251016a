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
check "formats module next to it" test -e "$prefix/lib/librk_formats.so"
check "HTTP module next to it" test -e "$prefix/lib/librk_http.so"
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
# A directory walk reads ignore rules, which the formats module matches.
mkdir -p "$index/tree" && printf 'walked and found\n' >"$index/tree/a.txt"
check "installed binary loads its formats module" "$prefix/bin/rk" -q --index "$index/i" ingest -r "$index/tree"
check "installed binary finds what it walked" "$prefix/bin/rk" --index "$index/i" query walked
# `rk query` needs no module: without them it still answers, and a command that needs one
# says which file it could not load.
rm "$prefix/lib/librk_formats.so" "$prefix/lib/librk_http.so"
check "query without the modules" "$prefix/bin/rk" --index "$index/i" query installed
"$prefix/bin/rk" -q --index "$index/i" ingest -r "$index/tree" 2>"$index/err"
code=$?
check "a missing module is exit 2" test "$code" -eq 2
check "a missing module is named" grep -q "librk_formats.so" "$index/err"
rm -rf "$index"
echo "$pass passed, $fail failed"
((fail == 0))
