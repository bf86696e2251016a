#!/usr/bin/env bash
# Checks the man pages and shell completions against the built binary.
#
#   tests/cli/test_docs.sh RK_BINARY REPO_ROOT
#
# (a) mandoc finds nothing to warn about in man/*.1;
# (b) every long flag that `rk [CMD [SUB]] --help` lists appears in the man page of
#     that command (rk.1 for the global ones, rk-index.1 for index's subcommands);
# (c) every command that `rk --help` lists has a man page, named in rk.1;
# (d) the bash completion, loaded into a non-interactive bash with bash-completion,
#     completes commands, flags, enumerated values and collection names;
# (e) the zsh and fish completions parse, and (when zsh/fish are installed)
#     complete the same things.
# Prints one line per check and a final "N passed, M failed"; exits 1 on any failure.

# Lists of flags and commands are split on white space on purpose.
# shellcheck disable=SC2086

set -u

if (($# != 2)); then
    echo "usage: $0 RK_BINARY REPO_ROOT" >&2
    exit 2
fi

# Absolute paths, so that nothing depends on the caller's working directory.
abspath() { (cd "$(dirname -- "$1")" && printf '%s/%s\n' "${PWD%/}" "$(basename -- "$1")"); }
[[ -f $1 ]] || { echo "$0: no such binary: $1" >&2; exit 2; }
RK=$(abspath "$1") || { echo "$0: no such binary: $1" >&2; exit 2; }
ROOT=$(cd -- "$2" && pwd -P) || { echo "$0: no such directory: $2" >&2; exit 2; }
[[ -x $RK ]] || { echo "$0: not executable: $RK" >&2; exit 2; }

MAN=$ROOT/man
COMP=$ROOT/completions

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rk-test-docs.XXXXXX") || exit 2
cleanup() { rm -rf -- "$TMP"; }
trap cleanup EXIT

# A scratch world: `rk` on PATH is the binary under test, no index is found by
# accident, and no colour or locale surprises.
mkdir -p "$TMP/bin" "$TMP/home" "$TMP/work"
ln -s "$RK" "$TMP/bin/rk"
export PATH="$TMP/bin:$PATH"
export HOME="$TMP/home" XDG_DATA_HOME="$TMP/home/data" NO_COLOR=1 LC_ALL=C
unset RK_INDEX CLICOLOR_FORCE
cd "$TMP/work" || exit 2

passed=0
failed=0
pass() {
    passed=$((passed + 1))
    printf 'ok   - %s\n' "$1"
}
fail() {
    failed=$((failed + 1))
    printf 'FAIL - %s\n' "$1"
    if (($# > 1)) && [[ -n $2 ]]; then printf '%s\n' "$2" | sed 's/^/       /'; fi
}
note() { printf 'note - %s\n' "$1"; }

# Sorted, space-separated words: for comparing sets.
words_sorted() { tr -d '\r' | tr ' \t' '\n' | sed '/^$/d' | LC_ALL=C sort -u | tr '\n' ' ' | sed 's/ $//'; }

# --- what the binary says about itself --------------------------------------------

# Long flags from the option lines of a help text (not from descriptions or examples).
help_long_flags() {
    grep -E '^ +-' | grep -oE '^ +(-[A-Za-z0-9],)*--[A-Za-z0-9][A-Za-z0-9-]*' |
        grep -oE -- '--[A-Za-z0-9][A-Za-z0-9-]*' | LC_ALL=C sort -u
}

# Command names from the "Subcommands:" section of a help text.
help_subcommands() {
    awk '/^Subcommands:/ { on = 1; next } on && /^[^ ]/ { on = 0 } on && /^  [a-z]/ { print $1 }'
}

# The allowed values of FLAG in a help text, from CLI11's "{a,b,c}".
help_values() {
    grep -E -- "^ +(-[A-Za-z0-9],)*$1[ =]" | grep -oE '\{[^}]*\}' | head -1 | tr -d '{}' | tr ',' ' '
}

help_of() { "$RK" "$@" --help 2>&1; }

if ! top_help=$(help_of); then
    fail "rk --help exits 0" "$top_help"
fi
commands=$(printf '%s\n' "$top_help" | help_subcommands)
index_commands=$(help_of index | help_subcommands)
if [[ -z $commands ]]; then
    fail "rk --help lists commands" "$top_help"
    commands=""
fi

# --- (a) mandoc -------------------------------------------------------------------

shopt -s nullglob
pages=("$MAN"/*.1)
shopt -u nullglob
if ((${#pages[@]} == 0)); then
    fail "man pages exist in $MAN"
elif ! command -v mandoc >/dev/null 2>&1; then
    fail "mandoc lint (mandoc is not installed)"
else
    lint=$(mandoc -T lint -W warning "${pages[@]}" 2>&1)
    if [[ -z $lint ]]; then
        pass "mandoc -T lint -W warning: ${#pages[@]} pages, no warnings"
    else
        fail "mandoc -T lint -W warning" "$lint"
    fi
fi

# The text of a man page with roff escapes for '-' undone: "\-\-index" -> "--index".
page_text() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' "$1"; }

# check_flags LABEL PAGE HELP_ARGS...: each long flag of `rk HELP_ARGS --help` is in PAGE.
check_flags() {
    local label=$1 page=$2
    shift 2
    local help flags flag missing=""
    help=$(help_of "$@")
    flags=$(printf '%s\n' "$help" | help_long_flags)
    if [[ -z $flags ]]; then
        fail "$label: --help lists long flags" "$help"
        return
    fi
    if [[ ! -f $page ]]; then
        fail "$label: flags documented (no page $page)"
        return
    fi
    local text
    text=$(page_text "$page")
    for flag in $flags; do
        grep -qE -- "(^|[^A-Za-z0-9-])${flag}([^A-Za-z0-9-]|\$)" <<<"$text" ||
            missing+="$flag "
    done
    if [[ -z $missing ]]; then
        pass "$label: all $(wc -w <<<"$flags" | tr -d ' ') long flags in $(basename "$page")"
    else
        fail "$label: long flags missing from $(basename "$page"): $missing"
    fi
}

# --- (b) every long flag documented ---------------------------------------------

check_flags "rk" "$MAN/rk.1"
for cmd in $commands; do
    check_flags "rk $cmd" "$MAN/rk-$cmd.1" "$cmd"
done
for sub in $index_commands; do
    check_flags "rk index $sub" "$MAN/rk-index.1" index "$sub"
    if grep -qw -- "$sub" <<<"$(page_text "$MAN/rk-index.1" 2>/dev/null)"; then
        pass "rk index $sub: described in rk-index.1"
    else
        fail "rk index $sub: described in rk-index.1"
    fi
done

# --- (c) a page per command -------------------------------------------------------

for cmd in $commands; do
    page=$MAN/rk-$cmd.1
    if [[ ! -f $page ]]; then
        fail "rk $cmd: has a man page (expected $page)"
        continue
    fi
    th=$(grep -m1 '^\.TH' "$page" | sed -e 's/\\-/-/g' | awk '{ print $2, $3 }')
    if [[ $th == "RK-${cmd^^} 1" ]]; then
        pass "rk $cmd: man page rk-$cmd.1 (.TH $th)"
    else
        fail "rk $cmd: man page rk-$cmd.1 has .TH RK-${cmd^^} 1" "found: .TH $th"
    fi
    if grep -qF "rk-$cmd (1)" <<<"$(page_text "$MAN/rk.1")"; then
        pass "rk.1 refers to rk-$cmd(1)"
    else
        fail "rk.1 refers to rk-$cmd(1)"
    fi
done

# --- a small index, for completing collection names ------------------------------

IDX=$TMP/index
if setup_log=$(
    {
        "$RK" --index "$IDX" init -q &&
            printf 'alpha text\n' | "$RK" --index "$IDX" ingest -q --collection alpha - &&
            printf 'beta text\n' | "$RK" --index "$IDX" ingest -q --collection beta -
    } 2>&1
); then
    have_index=1
else
    have_index=0
    fail "set up a scratch index with collections alpha and beta" "$setup_log"
fi

expect_commands=$(printf '%s ' $commands | words_sorted)
expect_index=$(printf '%s ' $index_commands | words_sorted)
expect_color=$(printf '%s\n' "$top_help" | help_values --color | words_sorted)
expect_ls_format=$(help_of ls | help_values --format | words_sorted)
expect_get_format=$(help_of get | help_values --format | words_sorted)
# The tokenizers are open-ended (snowball:LANGUAGE): the completion must offer these.
expect_tokenizer="porter unicode trigram snowball:english snowball:french"
value_checks="expect_color expect_ls_format expect_get_format"
has_query=0
if [[ " $(printf '%s ' $commands)" == *" query "* ]]; then
    has_query=1
    expect_query_format=$(help_of query | help_values --format | words_sorted)
    expect_mode=$(help_of query | help_values --mode | words_sorted)
    value_checks+=" expect_query_format expect_mode"
fi
for v in $value_checks; do
    [[ -n ${!v} ]] || fail "help lists the values for ${v#expect_}"
done

# check_completion SHELL LINE EXPECTED ACTUAL [contains]
# Without "contains", the completions must equal EXPECTED as sets.
check_completion() {
    local shell=$1 line=$2 expected=$3 actual=$4 mode=${5:-equal}
    local got
    got=$(printf '%s\n' "$actual" | words_sorted)
    if [[ $mode == contains ]]; then
        local w ok=1
        for w in $expected; do
            [[ " $got " == *" $w "* ]] || ok=0
        done
        if ((ok)); then
            pass "$shell: '$line<TAB>' offers $expected"
        else
            fail "$shell: '$line<TAB>' offers $expected" "got: [$got]"
        fi
    elif [[ $got == "$expected" ]]; then
        pass "$shell: '$line<TAB>' -> $expected"
    else
        fail "$shell: '$line<TAB>' -> $expected" "got: [$got]"
    fi
}

# --- (d) bash ---------------------------------------------------------------------

bash_completion_file=""
for f in \
    "$(pkg-config --variable=prefix bash-completion 2>/dev/null)/share/bash-completion/bash_completion" \
    /usr/share/bash-completion/bash_completion \
    /usr/local/share/bash-completion/bash_completion \
    /opt/homebrew/share/bash-completion/bash_completion \
    /etc/bash_completion; do
    if [[ -f $f ]]; then
        bash_completion_file=$f
        break
    fi
done
[[ -n $bash_completion_file ]] ||
    note "bash-completion not found; testing rk.bash on its own"

if bash -n "$COMP/rk.bash" 2>"$TMP/bash.err"; then
    pass "bash -n completions/rk.bash"
else
    fail "bash -n completions/rk.bash" "$(cat "$TMP/bash.err")"
fi

# Runs the bash completion for a command line (split on blanks; a trailing blank
# means an empty current word) and prints COMPREPLY, one a line.
bash_complete() {
    BASH_COMPLETION_FILE=$bash_completion_file RK_COMP=$COMP/rk.bash LINE=$1 \
        bash --norc --noprofile -c '
        if [[ -n $BASH_COMPLETION_FILE ]]; then
            . "$BASH_COMPLETION_FILE" || exit 3
        fi
        . "$RK_COMP" || exit 3
        read -ra COMP_WORDS <<<"$LINE"
        [[ $LINE == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE=$LINE
        COMP_POINT=${#LINE}
        COMPREPLY=()
        _rk rk "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf "%s\n" "${COMPREPLY[@]}"
    ' 2>&1
}

check_completion bash "rk ing" "ingest" "$(bash_complete 'rk ing')"
check_completion bash "rk ingest --col" "--collection" "$(bash_complete 'rk ingest --col')" contains
check_completion bash "rk ls --format " "$expect_ls_format" "$(bash_complete 'rk ls --format ')"
check_completion bash "rk --color " "$expect_color" "$(bash_complete 'rk --color ')"
check_completion bash "rk " "$expect_commands" "$(bash_complete 'rk ')"
check_completion bash "rk get --format " "$expect_get_format" "$(bash_complete 'rk get --format ')"
check_completion bash "rk init --tokenizer " "$expect_tokenizer" "$(bash_complete 'rk init --tokenizer ')" contains
check_completion bash "rk index " "$expect_index" "$(bash_complete 'rk index ')"
if ((has_query)); then
    check_completion bash "rk query --format " "$expect_query_format" "$(bash_complete 'rk query --format ')"
    check_completion bash "rk query --mode " "$expect_mode" "$(bash_complete 'rk query --mode ')"
fi
if ((have_index)); then
    check_completion bash "rk --index IDX ls --collection " "alpha beta" \
        "$(bash_complete "rk --index $IDX ls --collection ")"
fi
check_completion bash "rk --index /nonexistent ls --collection " "" \
    "$(bash_complete 'rk --index /nonexistent ls --collection ')"

# --- (e) zsh ----------------------------------------------------------------------

if command -v zsh >/dev/null 2>&1; then
    if zsh -n "$COMP/_rk" 2>"$TMP/zsh.err"; then
        pass "zsh -n completions/_rk"
    else
        fail "zsh -n completions/_rk" "$(cat "$TMP/zsh.err")"
    fi

    # Drives an interactive zsh on a pseudo-terminal, presses TAB after the line, and
    # prints what the completion system offered (each match compadd was given).
    cat >"$TMP/zsh-capture.zsh" <<'EOF'
zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "PS1= ; PROMPT= ; RPROMPT="
zpty -w z "fpath=(${(q)1} \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z "bindkey '^I' complete-word"
zpty -w z "null-line () { echo -E - \$'\\0' }"
zpty -w z "compprefuncs=( null-line )"
zpty -w z "comppostfuncs=( null-line exit )"
zpty -w z 'compadd () {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
  typeset -a __hits
  builtin compadd -A __hits "$@"
  local ret=$?
  (( $#__hits )) || return $ret
  local h; for h in $__hits; do print -r -- "<HIT>$h"; done
  builtin compadd "$@"
}'
zpty -w z "$2"$'\t'
integer seen=0
local line
while zpty -r z line; do
  if [[ $line == *$'\0'* ]]; then
    (( seen++ )) && break
    continue
  fi
  (( seen )) && [[ $line == *'<HIT>'* ]] && print -r -- "${${${line#*<HIT>}%$'\n'}%$'\r'}"
done
zpty -d z
EOF
    zsh_complete() {
        local out
        if command -v timeout >/dev/null 2>&1; then
            out=$(timeout 20 zsh -f "$TMP/zsh-capture.zsh" "$COMP" "$1" 2>/dev/null)
        else
            out=$(zsh -f "$TMP/zsh-capture.zsh" "$COMP" "$1" 2>/dev/null)
        fi
        printf '%s\n' "$out" | sed '/^[[:space:]]*$/d'
    }
    if zsh -fc 'zmodload zsh/zpty' 2>/dev/null; then
        check_completion zsh "rk ing" "ingest" "$(zsh_complete 'rk ing')"
        check_completion zsh "rk ingest --col" "--collection" "$(zsh_complete 'rk ingest --col')" contains
        check_completion zsh "rk ls --format " "$expect_ls_format" "$(zsh_complete 'rk ls --format ')"
        check_completion zsh "rk --color " "$expect_color" "$(zsh_complete 'rk --color ')"
        check_completion zsh "rk index " "$expect_index" "$(zsh_complete 'rk index ')"
        if ((has_query)); then
            check_completion zsh "rk query --format " "$expect_query_format" "$(zsh_complete 'rk query --format ')"
        fi
        if ((have_index)); then
            check_completion zsh "rk --index IDX ls --collection " "alpha beta" \
                "$(zsh_complete "rk --index $IDX ls --collection ")"
        fi
    else
        note "zsh has no zsh/zpty module; checked zsh syntax only"
    fi
else
    note "zsh is not installed; zsh completion not checked"
fi

# --- (e) fish ---------------------------------------------------------------------

if command -v fish >/dev/null 2>&1; then
    if fish -n "$COMP/rk.fish" 2>"$TMP/fish.err"; then
        pass "fish -n completions/rk.fish"
    else
        fail "fish -n completions/rk.fish" "$(cat "$TMP/fish.err")"
    fi
    fish_complete() {
        # shellcheck disable=SC2016 # expanded by fish
        RK_COMP=$COMP/rk.fish LINE=$1 fish --no-config -c \
            'source $RK_COMP; and complete -C "$LINE"' 2>&1 | cut -f1
    }
    check_completion fish "rk ing" "ingest" "$(fish_complete 'rk ing')"
    check_completion fish "rk ingest --col" "--collection" "$(fish_complete 'rk ingest --col')" contains
    check_completion fish "rk ls --format " "$expect_ls_format" "$(fish_complete 'rk ls --format ')"
    check_completion fish "rk --color " "$expect_color" "$(fish_complete 'rk --color ')"
    check_completion fish "rk index " "$expect_index" "$(fish_complete 'rk index ')"
    if ((has_query)); then
        check_completion fish "rk query --format " "$expect_query_format" "$(fish_complete 'rk query --format ')"
    fi
    if ((have_index)); then
        check_completion fish "rk --index IDX ls --collection " "alpha beta" \
            "$(fish_complete "rk --index $IDX ls --collection ")"
    fi
else
    note "fish is not installed; fish completion not checked"
fi

echo "$passed passed, $failed failed"
((failed == 0))
