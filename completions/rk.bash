# bash completion for rk                                    -*- shell-script -*-
#
# Install as rk in a bash-completion directory (for example
# /usr/share/bash-completion/completions/rk), or source it from ~/.bashrc.
# Works best with the bash-completion package loaded; falls back to plain
# bash otherwise.

# Prints the collection names of the index the command line points at, one a
# line, from `rk stats --json`; prints nothing when that fails.
# The Snowball stemmers of libstemmer, for --tokenizer snowball:LANGUAGE.
_rk_snowball="snowball:arabic snowball:armenian snowball:basque snowball:catalan snowball:danish snowball:dutch snowball:english snowball:finnish snowball:french snowball:german snowball:greek snowball:hindi snowball:hungarian snowball:indonesian snowball:irish snowball:italian snowball:lithuanian snowball:nepali snowball:norwegian snowball:portuguese snowball:romanian snowball:russian snowball:serbian snowball:spanish snowball:swedish snowball:tamil snowball:turkish snowball:yiddish"

_rk_collections()
{
    local rk=$1 index=$2
    # A leading ~/ as typed on the command line (not expanded there).
    # shellcheck disable=SC2088
    [[ $rk == "~/"* ]] && rk=$HOME/${rk#"~/"}
    # shellcheck disable=SC2088
    [[ $index == "~/"* ]] && index=$HOME/${index#"~/"}
    local -a args=()
    [[ -n $index ]] && args=(--index "$index")
    "$rk" "${args[@]}" --color never stats --json 2>/dev/null </dev/null | awk '
    {
        s = $0; n = length(s); key = "\"collections\":{"; start = 0
        for (i = 1; i + length(key) - 1 <= n; i++) {
            if (substr(s, i, length(key)) == key && (i == 1 || substr(s, i - 1, 1) != "\\")) {
                start = i + length(key); break
            }
        }
        if (!start) exit
        i = start
        while (i <= n) {
            c = substr(s, i, 1)
            if (c == "}") break
            if (c != "\"") { i++; continue }
            name = ""; i++
            while (i <= n) {
                c = substr(s, i, 1)
                if (c == "\\") {
                    e = substr(s, i + 1, 1)
                    if (e == "t") e = "\t"; else if (e == "n") e = " "; else if (e == "r") e = " "
                    name = name e; i += 2; continue
                }
                if (c == "\"") break
                name = name c; i++
            }
            print name
            # Skip the count that follows.
            while (i <= n && substr(s, i, 1) != "," && substr(s, i, 1) != "}") i++
            if (substr(s, i, 1) == ",") i++
        }
    }'
}

# Files, or directories with "-d", for the current word.
_rk_files()
{
    if declare -F _filedir >/dev/null 2>&1; then
        _filedir "$@"
    else
        compopt -o filenames 2>/dev/null
        if [[ ${1-} == -d ]]; then
            mapfile -t COMPREPLY < <(compgen -d -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        fi
    fi
}

_rk()
{
    local cur prev words cword split=false
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion -s || return
    else
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        # "--opt=value" arrives as three words when '=' breaks words.
        if [[ $cur == = ]]; then
            cur=""
            split=true
        elif [[ $prev == = ]] && ((cword >= 2)); then
            prev=${COMP_WORDS[COMP_CWORD - 2]}
            split=true
        elif [[ $cur == --*=* ]]; then
            prev=${cur%%=*}
            cur=${cur#*=}
            split=true
        fi
    fi

    local global_opts="--index -q --quiet -v --verbose --color --version -h --help"
    local commands="init ingest query get ls rm stats index export import eval bench mcp serve completions"
    local index_commands="verify rebuild optimize"

    # Options that take a value, so that their value is not a command name.
    local takes_value=" --index --color --embedder --tokenizer --chunk-size --chunk-overlap
        --include --exclude --collection --meta --id-field --title-field --text-field --encoding
        -j --jobs --format -k --mode --where --path --batch --qrels --run --metrics
        --warmup --repeat --report --gate --baseline --max-regression --bm25 --fusion --ef
        --vector-search --port --host --threads --max-body --timeout -o --output --rerank
        --rerank-depth "

    # Find the command (and index's subcommand) and any --index given so far.
    local cmd="" sub="" index="" i w
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        case $w in
            --index=*) index=${w#--index=} ;;
            --index)
                index=${words[i + 1]-}
                ((i++))
                ;;
            --*=*) ;;
            -*)
                [[ $takes_value == *" $w "* ]] && ((i++))
                ;;
            *)
                if [[ -z $cmd ]]; then
                    cmd=$w
                elif [[ $cmd == index && -z $sub ]]; then
                    sub=$w
                fi
                ;;
        esac
    done

    # The value of an option.
    case $prev in
        --index)
            _rk_files -d
            return
            ;;
        --color)
            mapfile -t COMPREPLY < <(compgen -W "auto always never" -- "$cur")
            return
            ;;
        --tokenizer)
            mapfile -t COMPREPLY < <(compgen -W "porter unicode trigram $_rk_snowball" -- "$cur")
            return
            ;;
        --embedder)
            mapfile -t COMPREPLY < <(compgen -W "builtin builtin:256 builtin:1024 builtin:2048 none
                model2vec: openai: ollama:" -- "$cur")
            [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *: ]] && compopt -o nospace 2>/dev/null
            return
            ;;
        --mode)
            mapfile -t COMPREPLY < <(compgen -W "hybrid bm25 vector" -- "$cur")
            return
            ;;
        --fusion)
            mapfile -t COMPREPLY < <(compgen -W "minmax rrf weighted k= bm25= vector=" -- "$cur")
            return
            ;;
        --vector-search)
            mapfile -t COMPREPLY < <(compgen -W "auto exact hnsw" -- "$cur")
            return
            ;;
        --batch | --qrels | --run | --report | --gate | --baseline | -o | --output)
            _rk_files
            return
            ;;
        --metrics)
            mapfile -t COMPREPLY < <(compgen -W "ndcg@10 recall@100 mrr@10 map@100 p@10" -- "$cur")
            return
            ;;
        --format)
            case $cmd in
                get) mapfile -t COMPREPLY < <(compgen -W "text json" -- "$cur") ;;
                query) mapfile -t COMPREPLY < <(compgen -W "text json jsonl tsv trec markdown" -- "$cur") ;;
                ls) mapfile -t COMPREPLY < <(compgen -W "text json jsonl tsv" -- "$cur") ;;
                eval) mapfile -t COMPREPLY < <(compgen -W "text json" -- "$cur") ;;
            esac
            return
            ;;
        --collection)
            local name
            COMPREPLY=()
            while IFS= read -r name; do
                [[ -n $name && $name == "$cur"* ]] && COMPREPLY+=("$(printf '%q' "$name")")
            done < <(_rk_collections "${words[0]}" "$index")
            return
            ;;
        --chunk-size | --chunk-overlap | --include | --exclude | --meta | --id-field | --encoding | \
            --title-field | --text-field | -j | --jobs | -k | --where | --path | --warmup | \
            --repeat | --max-regression | --port | --host | --threads | --max-body | --timeout)
            return
            ;;
    esac
    [[ $split == true ]] && return

    local opts=""
    case $cmd in
        "") opts="" ;;
        init) opts="--embedder --tokenizer --chunk-size --chunk-overlap" ;;
        ingest)
            opts="-r --recursive --stdin-paths -0 --null --include --exclude --hidden --no-ignore --encoding
                --collection --meta --id-field --title-field --text-field -n --dry-run
                --prune -j --jobs --json"
            ;;
        query)
            opts="-k --mode --chunks --collection --where --path --format --batch --bm25 --fusion
                --rm3 --rm3-params --explain --ef --vector-search --rerank --rerank-depth"
            ;;
        get) opts="--format" ;;
        ls) opts="--collection --format" ;;
        rm) opts="--collection" ;;
        stats) opts="--json" ;;
        export) opts="--collection --chunks --vectors -o --output" ;;
        import) opts="-j --jobs --json" ;;
        eval) opts="--qrels --run --metrics --per-query --dedupe --format" ;;
        bench)
            opts="--mode -k --warmup --repeat --metrics --report --gate --baseline
                --max-regression --bm25 --fusion --rm3 --rm3-params --rerank --rerank-depth --ef
                --vector-search -j --jobs
                --no-ingest --tokenizer --chunk-size --chunk-overlap"
            ;;
        serve) opts="--port --host --threads --max-body --timeout --rerank --rerank-depth" ;;
        mcp) opts="--rerank --rerank-depth" ;;
        index) [[ $sub == rebuild ]] && opts="--vectors" ;;
        completions) opts="" ;;
    esac

    if [[ $cur == -* ]]; then
        # The global options work after the command too.
        mapfile -t COMPREPLY < <(compgen -W "$opts $global_opts" -- "$cur")
        return
    fi

    case $cmd in
        "")
            mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
            ;;
        init | bench)
            _rk_files -d
            ;;
        ingest | import)
            _rk_files
            ;;
        get | rm)
            _rk_files
            ;;
        index)
            [[ -z $sub ]] && mapfile -t COMPREPLY < <(compgen -W "$index_commands" -- "$cur")
            ;;
        completions)
            mapfile -t COMPREPLY < <(compgen -W "bash zsh fish" -- "$cur")
            ;;
        *)
            COMPREPLY=()
            ;;
    esac
} &&
    complete -F _rk rk

# ex: filetype=sh
