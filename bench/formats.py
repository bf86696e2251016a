#!/usr/bin/env python3
"""Ingest throughput per format, against Xapian's omindex on the same files in the same run.

For each format it gathers real files of that kind from this machine (Debian's documentation,
man pages, headers and Python modules; PDFs made from man pages with groff -Tpdf) into a
directory of its own, then times, REPEAT times each, a fresh index of that directory by:

  rk          `rk ingest -r DIR` into a fresh default index (BM25 postings, FTS5, vectors)
  rk lexical  the same into an index made with `rk init --embedder none` (no vectors: what
              omindex builds)
  omindex     `omindex --db DB DIR` (xapian-omega), with the extensions it does not know
              mapped to text/plain (man pages, source code, Markdown without a markdown
              program), so that it reads them as raw text where rk reads them by format

and reports the median wall seconds, files a second and MB (of the files as they are on
disk) a second. Needs xapian-omega, poppler-utils (omindex's pdftotext) and groff; not run in
CI. Writes a Markdown table to stdout.

usage: bench/formats.py [--work DIR] [--rk PATH] [--files N] [--repeat N]
"""
import argparse
import glob
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def gather(work, n):
    """Fills WORK/FORMAT/ with up to n files of each format; returns {format: directory}."""
    sets = {}

    def fill(name, paths, transform=None, ext=None):
        d = os.path.join(work, name)
        if os.path.isdir(d):
            sets[name] = d
            return
        os.makedirs(d)
        count = 0
        for p in sorted(paths):
            if count >= n:
                break
            try:
                with open(p, "rb") as f:
                    data = f.read()
                if transform:
                    data = transform(p, data)
            except (OSError, ValueError, subprocess.SubprocessError):
                continue
            if not data:
                continue
            base = os.path.basename(p)
            if ext is not None:
                base = base.split(".")[0] + ext
            with open(os.path.join(d, f"{count:05d}-{base}"), "wb") as f:
                f.write(data)
            count += 1
        sets[name] = d

    man = glob.glob("/usr/share/man/man1/*.1.gz")
    fill("html", glob.glob("/usr/share/doc/**/*.html", recursive=True))
    fill("markdown", glob.glob("/usr/share/doc/**/*.md", recursive=True))
    fill("man", man, lambda p, d: gzip.decompress(d), ".1")
    fill("pdf", man[: n * 2], lambda p, d: subprocess.run(
        ["groff", "-man", "-Tpdf"], input=gzip.decompress(d), capture_output=True,
        timeout=60, check=True).stdout, ".pdf")
    fill("c", glob.glob("/usr/include/**/*.h", recursive=True))
    fill("python", glob.glob("/usr/lib/python3/dist-packages/**/*.py", recursive=True))
    return sets


def timed(argv, env=None):
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if r.returncode not in (0, 2):  # rk: 2 when some file failed, which the run reports
        sys.exit(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr[-2000:]}")
    return elapsed, r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="/tmp/rk-formats")
    ap.add_argument("--rk", default=os.path.join(ROOT, "build/release/apps/rk/rk"))
    ap.add_argument("--files", type=int, default=400, help="files per format")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    for tool in ("omindex", "groff", "pdftotext"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install xapian-omega groff poppler-utils)")
    os.makedirs(a.work, exist_ok=True)
    sets = gather(os.path.join(a.work, "files"), a.files)
    as_text = ["-M", "1:text/plain", "-M", "h:text/plain", "-M", "py:text/plain",
               "-M", "md:text/plain"]
    rows = []
    for name, d in sets.items():
        files = os.listdir(d)
        mb = sum(os.path.getsize(os.path.join(d, f)) for f in files) / 2**20
        runs = {"rk": [], "rk lexical": [], "omindex": []}
        notes = ""
        for _ in range(a.repeat):
            for system in runs:
                idx = os.path.join(a.work, "idx")
                shutil.rmtree(idx, ignore_errors=True)
                if system == "omindex":
                    s, r = timed(["omindex", "--db", idx, "-e", "skip", *as_text, d])
                else:
                    if system == "rk lexical":
                        subprocess.run([a.rk, "--index", idx, "init", "--embedder", "none"],
                                       check=True, capture_output=True)
                    s, r = timed([a.rk, "--index", idx, "ingest", "-r", "--json", d])
                    if system == "rk":
                        notes = r.stdout.strip()
                runs[system].append(s)
        row = [name, str(len(files)), f"{mb:.1f}"]
        for system, times in runs.items():
            med = statistics.median(times)
            row.append(f"{med:.2f} s, {len(files) / med:.0f} files/s, {mb / med:.1f} MB/s")
        rows.append(row)
        print(f"{name}: {notes}", file=sys.stderr)
    print("| format | files | MB | rk (default index) | rk (--embedder none) | omindex |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
