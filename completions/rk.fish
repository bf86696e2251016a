# fish completion for rk. Install as rk.fish in a directory of
# $fish_complete_path (for example /usr/share/fish/vendor_completions.d).

# Prints the words of the command line that are not options or option values:
# the command, then its arguments (for `rk index`, the index subcommand).
function __rk_positionals
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l skip 0
    for t in $tokens
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $t
            case --index --color --embedder --tokenizer --chunk-size --chunk-overlap \
                --include --exclude --collection --meta --id-field --title-field \
                --text-field -j --jobs --format -k --mode --where --path --batch \
                --qrels --run --metrics --warmup --repeat --report --gate --baseline \
                --max-regression --bm25 --fusion --rm3 --rm3-params --ef --vector-search --port --host \
                --threads --max-body --timeout -o --output --rerank --rerank-depth
                set skip 1
            case '-*'
            case '*'
                printf '%s\n' $t
        end
    end
end

function __rk_needs_command
    set -l p (__rk_positionals)
    test (count $p) -eq 0
end

function __rk_using
    set -l p (__rk_positionals)
    test (count $p) -ge 1; and test "$p[1]" = $argv[1]
end

function __rk_index_using
    set -l p (__rk_positionals)
    test (count $p) -ge 2; and test "$p[1]" = index; and test "$p[2]" = $argv[1]
end

function __rk_index_needs_command
    set -l p (__rk_positionals)
    test (count $p) -eq 1; and test "$p[1]" = index
end

# Collection names of the index the command line points at, from
# `rk stats --json`; prints nothing when that fails.
function __rk_collections
    set -l tokens (commandline -opc)
    set -l rk $tokens[1]
    set -l index
    set -l i 2
    while test $i -le (count $tokens)
        switch $tokens[$i]
            case --index
                set i (math $i + 1)
                set index $tokens[$i]
            case '--index=*'
                set index (string replace -- --index= '' $tokens[$i])
        end
        set i (math $i + 1)
    end
    set rk (string replace -r -- '^~/' "$HOME/" $rk)
    set -l args
    if test -n "$index"
        set args --index (string replace -r -- '^~/' "$HOME/" $index)
    end
    $rk $args --color never stats --json 2>/dev/null </dev/null | awk '
    {
        s = $0; n = length(s); key = "\"collections\":{"; start = 0
        for (i = 1; i + length(key) - 1 <= n; i++) {
            if (substr(s, i, length(key)) == key && (i == 1 || substr(s, i - 1, 1) != "\\\\")) {
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
                if (c == "\\\\") {
                    e = substr(s, i + 1, 1)
                    if (e == "t") e = "\t"; else if (e == "n") e = " "; else if (e == "r") e = " "
                    name = name e; i += 2; continue
                }
                if (c == "\"") break
                name = name c; i++
            }
            print name
            while (i <= n && substr(s, i, 1) != "," && substr(s, i, 1) != "}") i++
            if (substr(s, i, 1) == ",") i++
        }
    }'
end

complete -c rk -e
# No file names unless a command wants them.
complete -c rk -f

# Global options, accepted before or after the command.
complete -c rk -l index -x -a '(__fish_complete_directories (commandline -ct) "index directory")' -d 'Index directory'
complete -c rk -s q -l quiet -d 'Print no progress, notes or summaries'
complete -c rk -s v -l verbose -d 'Say more (repeat for more)'
complete -c rk -l color -x -a 'auto always never' -d 'When to use colour'
complete -c rk -n __rk_needs_command -l version -d 'Print the version and exit'
complete -c rk -s h -l help -d 'Print help and exit'

# Commands.
complete -c rk -n __rk_needs_command -a init -d 'Create an index'
complete -c rk -n __rk_needs_command -a ingest -d 'Add or update documents from files, globs or stdin'
complete -c rk -n __rk_needs_command -a query -d 'Search the index'
complete -c rk -n __rk_needs_command -a get -d 'Print a stored document, or one chunk as ID#N'
complete -c rk -n __rk_needs_command -a ls -d 'List documents'
complete -c rk -n __rk_needs_command -a rm -d 'Remove documents by id, path, glob or collection'
complete -c rk -n __rk_needs_command -a stats -d 'Counts, sizes and settings of the index'
complete -c rk -n __rk_needs_command -a index -d 'Verify, rebuild or optimize the index'
complete -c rk -n __rk_needs_command -a export -d 'Write the documents (and chunks, vectors) as JSONL'
complete -c rk -n __rk_needs_command -a import -d 'Read an export of rk export into the index'
complete -c rk -n __rk_needs_command -a eval -d 'Score a TREC run file against relevance judgements'
complete -c rk -n __rk_needs_command -a bench -d 'Measure retrieval quality and speed on BEIR datasets'
complete -c rk -n __rk_needs_command -a mcp -d 'Serve the index to AI agents over MCP (stdio)'
complete -c rk -n __rk_needs_command -a serve -d 'Serve the index over HTTP as a JSON API'
complete -c rk -n __rk_needs_command -a completions -d 'Print the completion script for a shell'
complete -c rk -n '__rk_using completions' -x -a 'bash zsh fish'

# rk init [DIR]
complete -c rk -n '__rk_using init' -a '(__fish_complete_directories (commandline -ct) "directory to create")'
complete -c rk -n '__rk_using init' -l embedder -x -a 'builtin\t"character n-grams, no model" none\t"no vectors, BM25 only" model2vec:\t"a Model2Vec model directory" openai:\t"an OpenAI-compatible service URL?model=NAME" ollama:\t"an Ollama service URL?model=NAME"' -d 'Embedder spec, fixed for the index'
complete -c rk -n '__rk_using init' -l tokenizer -x -a 'snowball:english\t"English stemming (Porter2), the default" porter\t"older English stemming (Porter)" unicode\t"no stemming" trigram\t"substrings" snowball:arabic\t"Snowball stemmer" snowball:armenian\t"Snowball stemmer" snowball:basque\t"Snowball stemmer" snowball:catalan\t"Snowball stemmer" snowball:danish\t"Snowball stemmer" snowball:dutch\t"Snowball stemmer" snowball:finnish\t"Snowball stemmer" snowball:french\t"Snowball stemmer" snowball:german\t"Snowball stemmer" snowball:greek\t"Snowball stemmer" snowball:hindi\t"Snowball stemmer" snowball:hungarian\t"Snowball stemmer" snowball:indonesian\t"Snowball stemmer" snowball:irish\t"Snowball stemmer" snowball:italian\t"Snowball stemmer" snowball:lithuanian\t"Snowball stemmer" snowball:nepali\t"Snowball stemmer" snowball:norwegian\t"Snowball stemmer" snowball:portuguese\t"Snowball stemmer" snowball:romanian\t"Snowball stemmer" snowball:russian\t"Snowball stemmer" snowball:serbian\t"Snowball stemmer" snowball:spanish\t"Snowball stemmer" snowball:swedish\t"Snowball stemmer" snowball:tamil\t"Snowball stemmer" snowball:turkish\t"Snowball stemmer" snowball:yiddish\t"Snowball stemmer"' -d 'Full-text tokenizer'
complete -c rk -n '__rk_using init' -l chunk-size -x -d 'Tokens per chunk (default 256)'
complete -c rk -n '__rk_using init' -l chunk-overlap -x -d 'Tokens repeated between chunks of one paragraph (default 32)'

# rk ingest PATH...
complete -c rk -n '__rk_using ingest' -F
complete -c rk -n '__rk_using ingest' -s r -l recursive -d 'Walk directories'
complete -c rk -n '__rk_using ingest' -l stdin-paths -d 'Read paths to ingest from stdin, one a line'
complete -c rk -n '__rk_using ingest' -s 0 -l null -d 'With --stdin-paths: paths end in NUL'
complete -c rk -n '__rk_using ingest' -l include -x -d 'Only walked files matching GLOB'
complete -c rk -n '__rk_using ingest' -l exclude -x -d 'Skip files and directories matching GLOB'
complete -c rk -n '__rk_using ingest' -l hidden -d 'Walk hidden files and directories too'
complete -c rk -n '__rk_using ingest' -l no-ignore -d 'Walk what .gitignore, .ignore and .rkignore ignore too'
complete -c rk -n '__rk_using ingest' -l encoding -x -d 'Text encoding of files without a byte order mark'
complete -c rk -n '__rk_using ingest' -l collection -x -a '(__rk_collections)' -d 'Collection the documents belong to'
complete -c rk -n '__rk_using ingest' -l meta -x -d 'Metadata KEY=VALUE for every document'
complete -c rk -n '__rk_using ingest' -l id-field -x -d 'JSON/JSONL field holding the id (default _id)'
complete -c rk -n '__rk_using ingest' -l title-field -x -d 'JSON/JSONL field holding the title (default title)'
complete -c rk -n '__rk_using ingest' -l text-field -x -d 'JSON/JSONL field holding the text (default text)'
complete -c rk -n '__rk_using ingest' -s n -l dry-run -d 'Print what would change, change nothing'
complete -c rk -n '__rk_using ingest' -l prune -d 'Remove documents whose files are gone'
complete -c rk -n '__rk_using ingest' -s j -l jobs -x -d 'Worker threads (0: one per core)'
complete -c rk -n '__rk_using ingest' -l json -d 'Print the summary as JSON on stdout'

# rk query TEXT
complete -c rk -n '__rk_using query' -s k -x -d 'How many results (default 10)'
complete -c rk -n '__rk_using query' -l mode -x -a 'hybrid bm25 vector' -d 'Ranking (default hybrid)'
complete -c rk -n '__rk_using query' -l fusion -x -a 'minmax rrf weighted' -d 'Hybrid fusion: minmax|rrf|weighted,k=,bm25=,vector='
complete -c rk -n '__rk_using query' -l rm3 -d 'Expand the query with words of the best BM25 results'
complete -c rk -n '__rk_using query' -l rm3-params -x -d 'RM3 feedback: docs=,terms=,original=,max_df='
complete -c rk -n '__rk_using query' -l explain -d "Show each signal's rank and score"
complete -c rk -n '__rk_using query' -l ef -x -d 'HNSW search breadth (default 128)'
complete -c rk -n '__rk_using query' -l vector-search -x -a 'auto exact hnsw' -d 'Exact or graph vector search'
complete -c rk -n '__rk_using query' -l chunks -d 'One result per matching chunk'
complete -c rk -n '__rk_using query' -l collection -x -a '(__rk_collections)' -d 'Only this collection'
complete -c rk -n '__rk_using query' -l where -x -d 'Only documents whose metadata KEY is VALUE'
complete -c rk -n '__rk_using query' -l path -x -d 'Only documents whose path or id matches GLOB'
complete -c rk -n '__rk_using query' -l format -x -a 'text json jsonl tsv trec markdown' -d 'Output format'
complete -c rk -n '__rk_using query' -l batch -r -F -d 'Queries from FILE (or - for stdin)'
complete -c rk -n '__rk_using query' -l bm25 -x -d 'BM25 parameters: k1=,b=,title=,heading=,body='

# rk get ID
complete -c rk -n '__rk_using get' -F
complete -c rk -n '__rk_using get' -l format -x -a 'text\t"the stored text" json\t"with metadata"' -d 'Output format'

# rk ls [GLOB]
complete -c rk -n '__rk_using ls' -l collection -x -a '(__rk_collections)' -d 'Only this collection'
complete -c rk -n '__rk_using ls' -l format -x -a 'text json jsonl tsv' -d 'Output format'

# rk rm SELECTOR...
complete -c rk -n '__rk_using rm' -F
complete -c rk -n '__rk_using rm' -l collection -x -a '(__rk_collections)' -d 'Remove every document of this collection'

# rk stats
complete -c rk -n '__rk_using stats' -l json -d 'Print as JSON'

# rk export
complete -c rk -n '__rk_using export' -l collection -x -a '(__rk_collections)' -d "Only this collection's documents"
complete -c rk -n '__rk_using export' -l chunks -d "Each document's chunks too"
complete -c rk -n '__rk_using export' -l vectors -d "Each chunk's stored vector too (implies --chunks)"
complete -c rk -n '__rk_using export' -s o -l output -r -F -d 'Write to FILE, renamed into place when complete'

# rk import FILE|-
complete -c rk -n '__rk_using import' -F
complete -c rk -n '__rk_using import' -s j -l jobs -x -d 'Worker threads (0: one per core)'
complete -c rk -n '__rk_using import' -l json -d 'Print the summary as JSON on stdout'

# rk serve
complete -c rk -n '__rk_using serve' -l port -x -d 'TCP port; 0 picks a free one (default 7700)'
complete -c rk -n '__rk_using serve' -l host -x -a '127.0.0.1 ::1 localhost' -d 'Address to listen on'
complete -c rk -n '__rk_using serve' -l threads -x -d 'Worker threads (default 8)'
complete -c rk -n '__rk_using serve' -l max-body -x -d 'Largest request body in bytes'
complete -c rk -n '__rk_using serve' -l timeout -x -d 'Seconds to read a request or write a reply'

# rk eval --qrels FILE --run FILE
complete -c rk -n '__rk_using eval' -l qrels -r -F -d 'Judgements: TREC qrels or BEIR test.tsv'
complete -c rk -n '__rk_using eval' -l run -r -F -d 'The TREC run to score'
complete -c rk -n '__rk_using eval' -l metrics -x -a 'ndcg@10 recall@100 mrr@10 map@100 p@10' -d 'Comma-separated metrics'
complete -c rk -n '__rk_using eval' -l per-query -d "Also print each query's figures"
complete -c rk -n '__rk_using eval' -l dedupe -d "Count a document listed twice for a query once"
complete -c rk -n '__rk_using eval' -l format -x -a 'text json' -d 'Output format'

# rk bench DATASET...
complete -c rk -n '__rk_using bench' -a '(__fish_complete_directories (commandline -ct) "dataset directory")'
complete -c rk -n '__rk_using bench' -l mode -x -a 'bm25 vector hybrid' -d 'Comma-separated modes to measure (default all)'
complete -c rk -n '__rk_using bench' -l fusion -x -a 'minmax rrf weighted' -d 'Hybrid fusion: minmax|rrf|weighted,k=,bm25=,vector='
complete -c rk -n '__rk_using bench' -l rm3 -d 'Expand each query with words of its best BM25 results'
complete -c rk -n '__rk_using bench' -l rm3-params -x -d 'RM3 feedback: docs=,terms=,original=,max_df='
complete -c rk -n '__rk_using bench' -l ef -x -d 'HNSW search breadth (default 128)'
complete -c rk -n '__rk_using bench' -l vector-search -x -a 'auto exact hnsw' -d 'Exact or graph vector search'
complete -c rk -n '__rk_using bench' -s k -x -d 'Results per query in the scored run (default 100)'
complete -c rk -n '__rk_using bench' -l warmup -x -d 'Untimed passes over the queries (default 1)'
complete -c rk -n '__rk_using bench' -l repeat -x -d 'Timed passes over the queries (default 5)'
complete -c rk -n '__rk_using bench' -l metrics -x -a 'ndcg@10 recall@100 mrr@10 map@100 p@10' -d 'Comma-separated quality metrics'
complete -c rk -n '__rk_using bench' -l report -r -F -d 'Write the JSON report to FILE'
complete -c rk -n '__rk_using bench' -l gate -r -F -d "Fail when a figure breaks FILE's bounds"
complete -c rk -n '__rk_using bench' -l baseline -r -F -d 'Fail when quality fell or speed regressed against REPORT'
complete -c rk -n '__rk_using bench' -l max-regression -x -d 'Slowdown allowed against --baseline, in percent (default 5)'
complete -c rk -n '__rk_using bench' -l bm25 -x -d 'BM25 parameters: k1=,b=,title=,heading=,body='
complete -c rk -n '__rk_using bench' -s j -l jobs -x -d 'Ingest threads (0: one per core)'
complete -c rk -n '__rk_using bench' -l no-ingest -d 'Measure the --index as it is'
complete -c rk -n '__rk_using bench' -l tokenizer -x -a 'snowball:english\t"English stemming (Porter2), the default" porter\t"older English stemming (Porter)" unicode\t"no stemming" trigram\t"substrings" snowball:arabic\t"Snowball stemmer" snowball:armenian\t"Snowball stemmer" snowball:basque\t"Snowball stemmer" snowball:catalan\t"Snowball stemmer" snowball:danish\t"Snowball stemmer" snowball:dutch\t"Snowball stemmer" snowball:finnish\t"Snowball stemmer" snowball:french\t"Snowball stemmer" snowball:german\t"Snowball stemmer" snowball:greek\t"Snowball stemmer" snowball:hindi\t"Snowball stemmer" snowball:hungarian\t"Snowball stemmer" snowball:indonesian\t"Snowball stemmer" snowball:irish\t"Snowball stemmer" snowball:italian\t"Snowball stemmer" snowball:lithuanian\t"Snowball stemmer" snowball:nepali\t"Snowball stemmer" snowball:norwegian\t"Snowball stemmer" snowball:portuguese\t"Snowball stemmer" snowball:romanian\t"Snowball stemmer" snowball:russian\t"Snowball stemmer" snowball:serbian\t"Snowball stemmer" snowball:spanish\t"Snowball stemmer" snowball:swedish\t"Snowball stemmer" snowball:tamil\t"Snowball stemmer" snowball:turkish\t"Snowball stemmer" snowball:yiddish\t"Snowball stemmer"' -d 'Tokenizer of the fresh index'
complete -c rk -n '__rk_using bench' -l chunk-size -x -d 'Chunk size of the fresh index (default 512)'
complete -c rk -n '__rk_using bench' -l chunk-overlap -x -d 'Chunk overlap of the fresh index (default 64)'

# rk index verify|rebuild|optimize
complete -c rk -n __rk_index_needs_command -a verify -d 'Check SQLite, full-text and chunk consistency'
complete -c rk -n __rk_index_needs_command -a rebuild -d 'Rebuild the derived structures from the stored chunks'
complete -c rk -n __rk_index_needs_command -a optimize -d 'Merge the full-text index and compact'
complete -c rk -n '__rk_index_using rebuild' -l vectors -d 'Embed every chunk again, also with a model or a service'

# --rerank, for every command that searches
complete -c rk -n '__rk_using query' -l rerank -x -d 'Reorder the best results by a reranking service (URL?model=NAME)'
complete -c rk -n '__rk_using query' -l rerank-depth -x -d 'How many results the reranker sees (default 50)'
complete -c rk -n '__rk_using bench' -l rerank -x -d 'Rerank each query by a reranking service (URL?model=NAME)'
complete -c rk -n '__rk_using bench' -l rerank-depth -x -d 'How many results the reranker sees (default 50)'
complete -c rk -n '__rk_using serve' -l rerank -x -d 'Default reranking service for searches (URL?model=NAME)'
complete -c rk -n '__rk_using serve' -l rerank-depth -x -d 'How many results the reranker sees (default 50)'
complete -c rk -n '__rk_using mcp' -l rerank -x -d 'Default reranking service for searches (URL?model=NAME)'
complete -c rk -n '__rk_using mcp' -l rerank-depth -x -d 'How many results the reranker sees (default 50)'
