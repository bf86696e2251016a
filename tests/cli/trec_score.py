"""An independent scorer for the `rk eval` agreement test, written from the trec_eval
conventions rather than from rk's code: documents ranked by score, ties by document id
descending; unjudged documents not relevant; nDCG with linear graded gains and log2
discounts; Recall, MRR, MAP (denominator: all relevant documents) and P at cut-offs;
judged queries absent from the run score 0."""

import math
from collections import defaultdict


def load_qrels(path):
    qrels = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) == 4:
                qrels[parts[0]][parts[2]] = int(parts[3])
            elif len(parts) == 3:
                if n == 1 and not parts[2].lstrip("-").isdigit():
                    continue
                qrels[parts[0]][parts[1]] = int(parts[2])
    return qrels


def load_run(path):
    run = defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if parts:
                run[parts[0]].append((float(parts[4]), parts[2]))
    return run


def measures(qrels, run, cuts):
    """Per query, a dict {(name, k): value} for every k in `cuts`."""
    result = {}
    for qid, judged in qrels.items():
        ranking = [doc for _, doc in sorted(run.get(qid, []), reverse=True)]
        rels = [max(0, judged.get(doc, 0)) for doc in ranking]
        positive = sorted((g for g in judged.values() if g > 0), reverse=True)
        r = {}
        for k in cuts:
            top = rels[:k]
            dcg = sum(g / math.log2(i + 2) for i, g in enumerate(top))
            idcg = sum(g / math.log2(i + 2) for i, g in enumerate(positive[:k]))
            r[("ndcg", k)] = dcg / idcg if idcg else 0.0
            found = sum(1 for g in top if g > 0)
            r[("recall", k)] = found / len(positive) if positive else 0.0
            r[("p", k)] = found / k
            first = next((i for i, g in enumerate(top) if g > 0), None)
            r[("mrr", k)] = 1.0 / (first + 1) if first is not None else 0.0
            seen, total = 0, 0.0
            for i, g in enumerate(top):
                if g > 0:
                    seen += 1
                    total += seen / (i + 1)
            r[("map", k)] = total / len(positive) if positive else 0.0
        result[qid] = r
    return result
