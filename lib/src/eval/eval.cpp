#include "rk/eval.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <unordered_set>

#include "rk/error.hpp"
#include "rk/ids.hpp"

namespace rk {

namespace {

// A TSV line (BEIR's qrels) is split at tabs only, so that an id may hold spaces; any other
// line at runs of spaces and tabs, as trec_eval splits it.
std::vector<std::string_view> tab_fields(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (start <= line.size()) {
        std::size_t end = line.find('\t', start);
        if (end == std::string_view::npos) end = line.size();
        std::string_view f = line.substr(start, end - start);
        while (!f.empty() && (f.front() == ' ' || f.front() == '\r')) f.remove_prefix(1);
        while (!f.empty() && (f.back() == ' ' || f.back() == '\r')) f.remove_suffix(1);
        if (!f.empty()) out.push_back(f);
        start = end + 1;
    }
    return out;
}

std::vector<std::string_view> fields(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
        const std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
        if (i > start) out.push_back(line.substr(start, i - start));
    }
    return out;
}

template <typename T>
bool parse_number(std::string_view s, T& out) {
    const auto* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && p == end;
}

template <typename F>
void for_each_line(const std::filesystem::path& file, bool tsv, F&& f) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw InputError("cannot read", file.string());
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line)) {
        ++n;
        const auto parts =
            tsv && line.find('\t') != std::string::npos ? tab_fields(line) : fields(line);
        if (parts.empty()) continue;
        f(parts, fmt::format("{}:{}", file.string(), n), n);
    }
    if (in.bad()) throw InputError("read error", file.string());
}

}  // namespace

std::vector<QueryText> read_queries(std::istream& in, const std::string& name) {
    std::vector<QueryText> out;
    simdjson::dom::parser parser;
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        if (line.front() != '{') {
            out.push_back({std::to_string(line_no), line});
            continue;
        }
        const std::string where = fmt::format("{}:{}", name, line_no);
        simdjson::dom::element el;
        if (parser.parse(line).get(el) != simdjson::SUCCESS || !el.is_object()) {
            throw InputError("invalid JSON query line", where);
        }
        QueryText q;
        std::string_view s;
        std::int64_t n = 0;
        if (el["_id"].get(s) == simdjson::SUCCESS) {
            q.id = std::string(s);
        } else if (el["_id"].get(n) == simdjson::SUCCESS) {
            q.id = std::to_string(n);
        } else {
            q.id = std::to_string(line_no);
        }
        if (el["text"].get(s) != simdjson::SUCCESS) {
            throw InputError("query has no string field 'text'", where);
        }
        q.text = std::string(s);
        out.push_back(std::move(q));
    }
    if (in.bad()) throw InputError("read error", name);
    return out;
}

std::vector<QueryText> read_queries(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw InputError("cannot read", file.string());
    return read_queries(in, file.string());
}

Qrels read_qrels(const std::filesystem::path& file) {
    Qrels q;
    // The line each judgement came from, to name both lines of a contradiction.
    std::map<std::pair<std::string, std::string>, std::size_t> seen;
    for_each_line(
        file, true,
        [&](const std::vector<std::string_view>& f, const std::string& where, std::size_t line) {
            int grade = 0;
            std::string_view qid, doc;
            if (f.size() == 4 && parse_number(f[3], grade)) {
                qid = f[0];
                doc = f[2];
            } else if (f.size() == 3 && parse_number(f[2], grade)) {
                qid = f[0];
                doc = f[1];
            } else if (line == 1 && f.size() == 3) {
                return;  // BEIR's header: query-id corpus-id score
            } else {
                throw InputError("expected 'QID ITER DOCID REL' (TREC) or 'QID DOCID REL' (BEIR)",
                                 where);
            }
            auto& judged = q[std::string(qid)];
            const auto [it, fresh] = judged.try_emplace(std::string(doc), grade);
            const auto [first, unseen] =
                seen.try_emplace({std::string(qid), std::string(doc)}, line);
            if (!fresh && it->second != grade) {
                throw InputError(fmt::format("document '{}' of query '{}' is judged {} here and {} "
                                             "on line {}",
                                             doc, qid, grade, it->second, first->second),
                                 where);
            }
        });
    return q;
}

namespace {

// What a run's field names among `known` (the judgements' ids): the field as written when it
// is known so, else its unescaped form when it has one (rk writes ids escaped: rk-query(1),
// IDS IN MACHINE FORMATS), else the field as written.
template <typename Known>
std::string resolve(std::string_view field, const Known& known) {
    std::string written(field);
    if (known.contains(written)) return written;
    if (auto plain = unescape_id(field)) return std::move(*plain);
    return written;
}

}  // namespace

Run read_run(const std::filesystem::path& file, const Qrels& qrels, bool dedupe) {
    Run run;
    // query id -> document id -> (place in the query's entries, line)
    using Places = std::unordered_map<std::string, std::pair<std::size_t, std::size_t>>;
    std::unordered_map<std::string, Places> seen;
    const std::unordered_map<std::string, int> none;
    for_each_line(
        file, false,
        [&](const std::vector<std::string_view>& f, const std::string& where, std::size_t line) {
            double score = 0;
            if (f.size() != 6 || !parse_number(f[4], score) || !std::isfinite(score)) {
                throw InputError("expected 'QID Q0 DOCID RANK SCORE TAG'", where);
            }
            std::string qid = resolve(f[0], qrels);
            const auto judged = qrels.find(qid);
            std::string doc = resolve(f[2], judged == qrels.end() ? none : judged->second);
            auto& entries = run[qid];
            const auto [it, fresh] = seen[qid].try_emplace(doc, entries.size(), line);
            if (fresh) {
                entries.push_back({std::move(doc), score});
                return;
            }
            if (!dedupe) {
                throw InputError(fmt::format("document '{}' is listed again for query '{}' (first "
                                             "on line {}); --dedupe counts it once",
                                             f[2], f[0], it->second.second),
                                 where);
            }
            auto& kept = entries[it->second.first];
            kept.score = std::max(kept.score, score);
        });
    return run;
}

std::string Metric::name() const {
    switch (kind) {
        case Kind::ndcg:
            return fmt::format("nDCG@{}", k);
        case Kind::recall:
            return fmt::format("Recall@{}", k);
        case Kind::mrr:
            return fmt::format("MRR@{}", k);
        case Kind::map:
            return fmt::format("MAP@{}", k);
        case Kind::precision:
            return fmt::format("P@{}", k);
    }
    return {};
}

std::vector<Metric> parse_metrics(std::string_view spec) {
    std::vector<Metric> out;
    std::size_t pos = 0;
    while (pos <= spec.size()) {
        std::size_t comma = spec.find(',', pos);
        if (comma == std::string_view::npos) comma = spec.size();
        std::string_view raw = spec.substr(pos, comma - pos);
        pos = comma + 1;
        while (!raw.empty() && (raw.front() == ' ' || raw.front() == '\t')) raw.remove_prefix(1);
        while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t')) raw.remove_suffix(1);
        std::string item(raw);
        std::transform(item.begin(), item.end(), item.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (item.empty()) continue;
        Metric m;
        std::string name = item;
        if (const auto at = item.find('@'); at != std::string::npos) {
            name = item.substr(0, at);
            if (!parse_number(std::string_view(item).substr(at + 1), m.k) || m.k <= 0) {
                throw UsageError(fmt::format("bad cutoff in metric '{}'", item));
            }
        }
        if (name == "ndcg") {
            m.kind = Metric::Kind::ndcg;
        } else if (name == "recall" || name == "r") {
            m.kind = Metric::Kind::recall;
        } else if (name == "mrr" || name == "rr") {
            m.kind = Metric::Kind::mrr;
        } else if (name == "map") {
            m.kind = Metric::Kind::map;
        } else if (name == "p" || name == "precision") {
            m.kind = Metric::Kind::precision;
        } else {
            throw UsageError(fmt::format(
                "unknown metric '{}' (expected ndcg, recall, mrr, map or p, as in ndcg@10)", item));
        }
        out.push_back(m);
    }
    if (out.empty()) throw UsageError("no metrics given");
    return out;
}

Evaluation evaluate(const Qrels& qrels, const Run& run, const std::vector<Metric>& metrics) {
    Evaluation e;
    e.metrics = metrics;
    e.mean.assign(metrics.size(), 0.0);
    std::vector<const RunEntry*> ranked;
    std::vector<int> grades;
    std::unordered_set<std::string_view> counted;
    for (const auto& [qid, judged] : qrels) {
        ranked.clear();
        if (const auto it = run.find(qid); it != run.end()) {
            for (const auto& r : it->second) ranked.push_back(&r);
        }
        // trec_eval's order: score descending, then document id descending.
        std::sort(ranked.begin(), ranked.end(), [](const RunEntry* a, const RunEntry* b) {
            if (a->score != b->score) return a->score > b->score;
            return a->doc > b->doc;
        });
        grades.clear();
        counted.clear();
        for (const auto* r : ranked) {
            // A document a run lists twice counts once, at its better place: otherwise one
            // relevant document could earn a recall over 1.
            if (!counted.insert(r->doc).second) continue;
            const auto g = judged.find(r->doc);
            grades.push_back(g == judged.end() ? 0 : std::max(0, g->second));
        }
        std::vector<int> ideal;
        for (const auto& [doc, g] : judged) {
            if (g > 0) ideal.push_back(g);
        }
        std::sort(ideal.rbegin(), ideal.rend());
        const auto relevant = static_cast<double>(ideal.size());

        std::vector<double> values;
        for (const auto& m : metrics) {
            const std::size_t cut =
                std::min<std::size_t>(grades.size(), static_cast<std::size_t>(m.k));
            double v = 0;
            switch (m.kind) {
                case Metric::Kind::ndcg: {
                    double dcg = 0, idcg = 0;
                    for (std::size_t i = 0; i < cut; ++i) {
                        dcg += grades[i] / std::log2(static_cast<double>(i) + 2);
                    }
                    const std::size_t icut =
                        std::min<std::size_t>(ideal.size(), static_cast<std::size_t>(m.k));
                    for (std::size_t i = 0; i < icut; ++i) {
                        idcg += ideal[i] / std::log2(static_cast<double>(i) + 2);
                    }
                    v = idcg > 0 ? dcg / idcg : 0;
                    break;
                }
                case Metric::Kind::recall: {
                    double hits = 0;
                    for (std::size_t i = 0; i < cut; ++i) hits += grades[i] > 0 ? 1 : 0;
                    v = relevant > 0 ? hits / relevant : 0;
                    break;
                }
                case Metric::Kind::mrr:
                    for (std::size_t i = 0; i < cut; ++i) {
                        if (grades[i] > 0) {
                            v = 1.0 / static_cast<double>(i + 1);
                            break;
                        }
                    }
                    break;
                case Metric::Kind::map: {
                    double hits = 0, sum = 0;
                    for (std::size_t i = 0; i < cut; ++i) {
                        if (grades[i] > 0) {
                            hits += 1;
                            sum += hits / static_cast<double>(i + 1);
                        }
                    }
                    v = relevant > 0 ? sum / relevant : 0;
                    break;
                }
                case Metric::Kind::precision: {
                    double hits = 0;
                    for (std::size_t i = 0; i < cut; ++i) hits += grades[i] > 0 ? 1 : 0;
                    v = hits / m.k;
                    break;
                }
            }
            values.push_back(v);
        }
        for (std::size_t i = 0; i < values.size(); ++i) e.mean[i] += values[i];
        e.per_query.emplace_back(qid, std::move(values));
    }
    if (!e.per_query.empty()) {
        for (auto& m : e.mean) m /= static_cast<double>(e.per_query.size());
    }
    return e;
}

}  // namespace rk
