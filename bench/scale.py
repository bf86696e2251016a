#!/usr/bin/env python3
"""How rk grows with the collection, against plain SQLite FTS5 and Xapian in the same run.

For each size N it makes a corpus of N documents of real sentences (../shared/tools/
synth_corpus.py, deterministic), ingests it with each system, and runs the SciFact and NPL
queries (393 claims and questions, long queries) k=10 against it:

  ingest      wall seconds and documents a second of one process that reads corpus.jsonl
              and leaves a finished index (rk: `rk ingest`, default settings; FTS5: one
              transaction of INSERTs, porter tokenizer; Xapian: a glass database on disk,
              BM25, English stemming), and that process's peak RSS
  index       MiB on disk, by file (then what the ingest left in the page cache is written
              back, so that it is not written while queries are timed)
  in process  median / p95 / p99 ms of one query in a warm process over REPEAT passes
              (rk: `rk bench --no-ingest` on the built index, each mode; FTS5: bm25() over
              the OR of the query's words; Xapian: BM25 top 10, in Python, whose call
              overhead counts against it)
  process     median wall ms of a whole `rk query -k 10 TEXT` process per mode, over
              PROCESS_QUERIES queries spread over the set, REPEAT times each

Nothing of it runs in CI (a million documents take most of an hour); `--sizes 10k` is a smoke
run of a few minutes. Writes a Markdown table to stdout (and --json FILE).

usage: bench/scale.py [--sizes 10k,100k,1M] [--work DIR] [--rk PATH] [--repeat N]
                      [--process-queries N] [--systems rk,fts5,xapian] [--json FILE]
"""
import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared")
# Debian's python3-xapian is built for Debian's Python.
XAPIAN_PYTHON = "/usr/bin/python3"


def size_arg(text):
    m = re.fullmatch(r"(\d+)([kKmM]?)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text}")
    return int(m.group(1)) * {"": 1, "k": 1000, "m": 1000000}[m.group(2).lower()]


def human(n):
    return f"{n // 1000000}M" if n % 1000000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def run_rss(cmd, stdout=subprocess.DEVNULL):
    """Runs cmd; returns (wall seconds, its own peak RSS in bytes, stdout bytes or None)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=stdout)
    out = p.stdout.read() if stdout == subprocess.PIPE else None
    _, status, ru = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"scale.py: {' '.join(cmd)} failed with status {code}")
    return seconds, ru.ru_maxrss * 1024, out


def mib(path):
    return os.path.getsize(path) / 2**20 if os.path.exists(path) else 0.0


def dir_mib(path):
    total = 0
    for base, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(base, f)) for f in files)
    return total / 2**20


def percentiles(times):
    times = sorted(times)

    def rank(p):  # nearest rank, as rk bench takes it
        return times[min(len(times), max(1, math.ceil(p * len(times)))) - 1]
    return {"median_ms": statistics.median(times), "p95_ms": rank(0.95), "p99_ms": rank(0.99)}


def load_queries(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def query_words(text):
    return re.findall(r"\w+", text)


# ---- subcommands run in their own process, so that each one's peak RSS is its own ----------

# A peer's query passes stop after this many seconds of timed queries (and at least
# MIN_TIMED queries): plain FTS5's bm25() takes seconds a query at a million documents, and
# all passes would take hours. The queries are taken in an order spread over both sets.
PEER_BUDGET_S = 300
MIN_TIMED = 100


def spread(items):
    """Every 7th item first, then the rest likewise: a prefix samples the whole list."""
    return [items[i] for start in range(7) for i in range(start, len(items), 7)]


def timed_passes(run_one, items, warmup, repeat):
    """Times run_one over items: `warmup` untimed passes (cut short after a fifth of
    PEER_BUDGET_S), then `repeat` timed passes, cut short by PEER_BUDGET_S. Returns the
    percentiles and the number of queries timed."""
    items = spread(items)
    t0 = time.perf_counter()
    for _ in range(warmup):
        for it in items:
            run_one(it)
            if time.perf_counter() - t0 > PEER_BUDGET_S / 5:
                break
    times = []
    spent = 0.0
    for _ in range(repeat):
        for it in items:
            t0 = time.perf_counter()
            run_one(it)
            times.append((time.perf_counter() - t0) * 1000)
            spent += times[-1] / 1000
            if spent > PEER_BUDGET_S and len(times) >= MIN_TIMED:
                break
        if spent > PEER_BUDGET_S and len(times) >= MIN_TIMED:
            break
    out = percentiles(times)
    out["timed"] = len(times)
    return out

def fts5_ingest(corpus, db_path):
    import sqlite3
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, text, "
               "tokenize='porter unicode61 remove_diacritics 2')")
    with open(corpus, encoding="utf-8") as f, db:
        for line in f:
            r = json.loads(line)
            db.execute("INSERT INTO docs VALUES (?,?,?)",
                       (r["_id"], r.get("title") or "", r.get("text") or ""))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def fts5_query(db_path, queries_path, warmup, repeat):
    import sqlite3
    db = sqlite3.connect(db_path)
    exprs = []
    for q in load_queries(queries_path):
        words = query_words(q["text"])
        if words:
            exprs.append(" OR ".join('"%s"' % w for w in words))
    def run_one(e):
        db.execute("SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT 10",
                   (e,)).fetchall()
    print(json.dumps(timed_passes(run_one, exprs, warmup, repeat)))


def xapian_ingest(corpus, db_path):
    import xapian
    db = xapian.WritableDatabase(db_path, xapian.DB_CREATE_OR_OVERWRITE)
    gen = xapian.TermGenerator()
    gen.set_stemmer(xapian.Stem("english"))
    gen.set_stemming_strategy(xapian.TermGenerator.STEM_SOME)
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            doc = xapian.Document()
            gen.set_document(doc)
            gen.index_text(r.get("title") or "")
            gen.increase_termpos()
            gen.index_text(r.get("text") or "")
            doc.add_value(0, r["_id"])
            db.add_document(doc)
    db.commit()
    db.close()


def xapian_query(db_path, queries_path, warmup, repeat):
    import xapian
    db = xapian.Database(db_path)
    parser = xapian.QueryParser()
    parser.set_stemmer(xapian.Stem("english"))
    parser.set_stemming_strategy(xapian.QueryParser.STEM_SOME)
    parser.set_default_op(xapian.Query.OP_OR)
    enquire = xapian.Enquire(db)
    enquire.set_weighting_scheme(xapian.BM25Weight())
    texts = [q["text"] for q in load_queries(queries_path)]

    def run_one(t):
        enquire.set_query(parser.parse_query(t))
        return [m.document.get_value(0) for m in enquire.get_mset(0, 10)]
    print(json.dumps(timed_passes(run_one, texts, warmup, repeat)))


SUBCOMMANDS = {"fts5-ingest": fts5_ingest, "xapian-ingest": xapian_ingest}
QUERY_SUBCOMMANDS = {"fts5-query": fts5_query, "xapian-query": xapian_query}


# ---- the driver -----------------------------------------------------------------------------

def make_queries(work):
    """The SciFact and NPL queries in one BEIR queries.jsonl, ids made unique."""
    path = os.path.join(work, "queries.jsonl")
    if not os.path.exists(path):
        with open(path, "w", encoding="utf-8") as out:
            for name in ("scifact", "npl"):
                for q in load_queries(os.path.join(SHARED, "datasets", name, "queries.jsonl")):
                    out.write(json.dumps({"_id": f"{name}-{q['_id']}", "text": q["text"]}) + "\n")
    return path


def make_corpus(work, n):
    path = os.path.join(work, f"corpus-{human(n)}.jsonl")
    if not os.path.exists(path):
        print(f"scale.py: making {path}", file=sys.stderr)
        subprocess.run([sys.executable, os.path.join(SHARED, "tools", "synth_corpus.py"), str(n),
                        path + ".tmp"], check=True)
        os.rename(path + ".tmp", path)
    return path


def settle():
    """Writes back what an ingest left in the page cache before queries are timed: at a
    million documents that is gigabytes, which the kernel would otherwise write while the
    first mode's queries run."""
    os.sync()


def measure_rk(args, n, corpus, queries):
    index = os.path.join(args.work, f"rk-{human(n)}")
    shutil.rmtree(index, ignore_errors=True)
    seconds, rss, _ = run_rss([args.rk, "--index", index, "-q", "ingest", corpus])
    settle()
    row = {"system": "rk", "ingest_s": seconds, "peak_rss_mib": rss / 2**20,
           "files_mib": {f: mib(os.path.join(index, f))
                         for f in ("rk.db", "rk.db-wal", "vectors.hnsw")}}
    row["files_mib"]["postings/"] = dir_mib(os.path.join(index, "postings"))
    stats = json.loads(subprocess.run([args.rk, "--index", index, "stats", "--json"], check=True,
                                      capture_output=True, text=True).stdout)
    row["documents"], row["chunks"] = stats["documents"], stats["chunks"]
    row["index_mib"] = sum(row["files_mib"].values())

    # In process: rk bench on the built index, speed only (the corpus has no judgements).
    speed = os.path.join(args.work, f"speed-{human(n)}")
    os.makedirs(speed, exist_ok=True)
    shutil.copyfile(queries, os.path.join(speed, "queries.jsonl"))
    report = os.path.join(args.work, f"rk-{human(n)}.json")
    subprocess.run([args.rk, "--index", index, "-q", "bench", speed, "--no-ingest", "-k", "10",
                    "--mode", ",".join(args.modes), "--warmup", "1", "--repeat",
                    str(args.repeat), "--report", report], check=True,
                   stdout=subprocess.DEVNULL)
    modes = json.load(open(report))["datasets"][0]["modes"]
    row["in_process"] = {m: modes[m]["latency"] for m in args.modes}

    # Whole processes: queries spread over the set.
    texts = [q["text"] for q in load_queries(queries)]
    step = max(1, len(texts) // args.process_queries)
    picked = texts[::step][:args.process_queries]
    row["process"] = {}
    for m in args.modes:
        walls, rsses = [], []
        for _ in range(args.repeat):
            for t in picked:
                s, r, _ = run_rss([args.rk, "--index", index, "query", "--mode", m, "-k", "10",
                                   "--", t])
                walls.append(s * 1000)
                rsses.append(r / 2**20)
        row["process"][m] = {"median_ms": statistics.median(walls),
                             "peak_rss_mib": statistics.median(rsses)}
    return row


def measure_peer(args, system, n, corpus, queries):
    python = XAPIAN_PYTHON if system == "xapian" else sys.executable
    db = os.path.join(args.work, f"{system}-{human(n)}" + (".db" if system == "fts5" else ""))
    if os.path.isdir(db):
        shutil.rmtree(db)
    elif os.path.exists(db):
        os.remove(db)
    me = os.path.abspath(__file__)
    seconds, rss, _ = run_rss([python, me, f"{system}-ingest", corpus, db])
    settle()
    size = dir_mib(db) if os.path.isdir(db) else mib(db)
    _, _, out = run_rss([python, me, f"{system}-query", db, queries, "1", str(args.repeat)],
                        stdout=subprocess.PIPE)
    return {"system": system, "ingest_s": seconds, "peak_rss_mib": rss / 2**20,
            "index_mib": size, "in_process": {"bm25": json.loads(out)}}


def table(rows, modes):
    head = ["size", "system", "docs", "chunks", "ingest s", "docs/s", "peak RSS MiB",
            "index MiB"]
    for m in modes:
        head.append(f"{m} ms median / p95 / p99")
    for m in modes:
        head.append(f"`rk query` {m} ms")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        files = r.get("files_mib")
        index = f"{r['index_mib']:.0f}"
        if files:
            index += " (" + ", ".join(f"{k} {v:.0f}" for k, v in files.items() if v > 0) + ")"
        cells = [human(r["size"]), r["system"], str(r["size"]), str(r.get("chunks", "")),
                 f"{r['ingest_s']:.1f}", f"{r['size'] / r['ingest_s']:.0f}",
                 f"{r['peak_rss_mib']:.0f}", index]
        for m in modes:
            lat = r["in_process"].get(m)
            cells.append(f"{lat['median_ms']:.2f} / {lat['p95_ms']:.2f} / {lat['p99_ms']:.2f}"
                         if lat else "")
        for m in modes:
            p = r.get("process", {}).get(m)
            cells.append(f"{p['median_ms']:.0f}" if p else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    if len(sys.argv) > 1 and sys.argv[1] in SUBCOMMANDS:
        SUBCOMMANDS[sys.argv[1]](*sys.argv[2:4])
        return
    if len(sys.argv) > 1 and sys.argv[1] in QUERY_SUBCOMMANDS:
        QUERY_SUBCOMMANDS[sys.argv[1]](sys.argv[2], sys.argv[3], int(sys.argv[4]),
                                       int(sys.argv[5]))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10k,100k,1M",
                   type=lambda s: [size_arg(x) for x in s.split(",")])
    p.add_argument("--work", default=os.path.join(ROOT, "build", "scale"))
    p.add_argument("--rk", default=os.path.join(ROOT, "build", "release", "apps", "rk", "rk"))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--process-queries", type=int, default=20)
    p.add_argument("--systems", default="rk,fts5,xapian", type=lambda s: s.split(","))
    p.add_argument("--modes", default="bm25,vector,hybrid", type=lambda s: s.split(","))
    p.add_argument("--json")
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    queries = make_queries(args.work)
    rows = []
    for n in args.sizes:
        corpus = make_corpus(args.work, n)
        for system in args.systems:
            print(f"scale.py: {system} at {human(n)}", file=sys.stderr)
            row = (measure_rk(args, n, corpus, queries) if system == "rk"
                   else measure_peer(args, system, n, corpus, queries))
            row["size"] = n
            rows.append(row)
            print(table([row], args.modes).splitlines()[-1], file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    print(table(rows, args.modes))


if __name__ == "__main__":
    main()
