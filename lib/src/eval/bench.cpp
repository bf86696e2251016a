#include "rk/bench.hpp"

#include <fmt/format.h>
#include <simdjson.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include "rk/error.hpp"
#include "rk/eval.hpp"
#include "rk/ingest.hpp"
#include "rk/json.hpp"
#include "rk/search.hpp"
#include "rk/version.hpp"
#include "util/hash.hpp"

namespace fs = std::filesystem;

namespace rk {

namespace {

std::string hash_files(const std::vector<fs::path>& files) {
    util::Hash128 h;
    std::vector<char> buf(std::size_t{1} << 16);
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        if (!in) throw InputError("cannot read", f.string());
        while (in) {
            in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
            h.update({buf.data(), static_cast<std::size_t>(in.gcount())});
        }
    }
    return h.hex();
}

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    // Nearest rank: the smallest value with at least p of the samples at or below it.
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

std::int64_t peak_rss_bytes() {
    rusage ru{};
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return static_cast<std::int64_t>(ru.ru_maxrss) * 1024;
}

std::string read_line_value(const char* file, std::string_view key) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with(key)) {
            const auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            const auto b = line.find_first_not_of(" \t", colon + 1);
            return b == std::string::npos ? std::string() : line.substr(b);
        }
    }
    return {};
}

simdjson::dom::element parse_json_file(simdjson::dom::parser& parser, const fs::path& file,
                                       simdjson::padded_string& storage) {
    if (simdjson::padded_string::load(file.string()).get(storage) != simdjson::SUCCESS) {
        throw InputError("cannot read", file.string());
    }
    simdjson::dom::element root;
    if (auto e = parser.parse(storage).get(root)) {
        throw InputError(fmt::format("invalid JSON: {}", simdjson::error_message(e)),
                         file.string());
    }
    return root;
}

}  // namespace

std::optional<double> DatasetResult::figure(const std::string& mode,
                                            const std::string& figure_name) const {
    for (const auto& m : modes) {
        if (m.mode != mode) continue;
        if (figure_name == "ingest_seconds") return ingest_seconds;
        if (figure_name == "docs_per_s") return docs_per_s;
        if (figure_name == "index_bytes") return static_cast<double>(index_bytes);
        if (figure_name == "peak_rss_bytes") return static_cast<double>(peak_rss_bytes);
        if (figure_name == "median_ms") return m.latency.median_ms;
        if (figure_name == "p95_ms") return m.latency.p95_ms;
        if (figure_name == "p99_ms") return m.latency.p99_ms;
        if (figure_name == "mean_ms") return m.latency.mean_ms;
        if (figure_name == "qps") return m.latency.qps;
        for (const auto& [metric, value] : m.quality) {
            if (metric == figure_name) return value;
        }
    }
    return std::nullopt;
}

void check_bench_options(const BenchOptions& o) {
    for (std::size_t i = 0; i < o.modes.size(); ++i) {
        (void)parse_search_mode(o.modes[i]);
        for (std::size_t j = 0; j < i; ++j) {
            if (o.modes[j] == o.modes[i]) {
                throw UsageError(fmt::format("mode '{}' is given twice", o.modes[i]));
            }
        }
    }
    (void)parse_metrics(o.metrics);
}

DatasetResult run_bench(const fs::path& dataset, Index& index, const BenchOptions& o,
                        const std::function<void(const std::string&)>& note) {
    check_bench_options(o);
    const fs::path corpus = dataset / "corpus.jsonl", queries_file = dataset / "queries.jsonl",
                   qrels_file = dataset / "qrels" / "test.tsv";
    auto present = [](const fs::path& f) {
        std::error_code ec;
        return fs::is_regular_file(f, ec);
    };
    if (o.ingest && !present(corpus)) {
        throw InputError("not a BEIR dataset: missing corpus.jsonl", corpus.string());
    }
    if (!present(queries_file)) {
        throw InputError("not a BEIR dataset: missing queries.jsonl", queries_file.string());
    }
    // Without judgements the run measures speed alone, over every query.
    const bool judged = present(qrels_file);
    DatasetResult r;
    r.name = fs::absolute(dataset).lexically_normal().filename().string();
    if (r.name.empty()) r.name = fs::absolute(dataset).lexically_normal().parent_path().filename();
    r.path = fs::absolute(dataset).lexically_normal().string();
    std::vector<fs::path> hashed;
    for (const auto& f : {corpus, queries_file, qrels_file}) {
        if (present(f)) hashed.push_back(f);
    }
    r.hash = hash_files(hashed);

    const Qrels qrels = judged ? read_qrels(qrels_file) : Qrels{};
    std::vector<QueryText> queries;
    for (auto& q : read_queries(queries_file)) {
        if (!judged || qrels.contains(q.id)) queries.push_back(std::move(q));
    }
    r.queries = static_cast<std::int64_t>(queries.size());
    if (!judged && note) note(fmt::format("{}: no qrels/test.tsv, speed only", r.name));

    if (o.ingest) {
        if (note) note(fmt::format("{}: ingesting {}", r.name, corpus.string()));
        IngestOptions io;
        io.paths = {corpus.string()};
        io.jobs = o.jobs;
        const IngestReport ir = ingest(index, io);
        if (ir.failed > 0) {
            throw InputError(fmt::format("{} records could not be ingested", ir.failed),
                             corpus.string());
        }
        r.ingest_seconds = ir.seconds;
        r.docs_per_s = ir.seconds > 0
                           ? static_cast<double>(ir.added + ir.updated + ir.unchanged) / ir.seconds
                           : 0;
    }
    const Stats stats = index.stats();
    r.documents = stats.documents;
    r.index_bytes = stats.db_bytes + stats.wal_bytes + stats.graph_bytes + stats.posting_file_bytes;

    const auto metrics = parse_metrics(o.metrics);
    std::vector<std::string> modes = o.modes;
    if (modes.empty()) {
        modes = {"bm25"};
        if (index.settings().embedder != "none") modes = {"bm25", "vector", "hybrid"};
    }
    for (const auto& mode : modes) {
        if (note) note(fmt::format("{}: {} queries in mode {}", r.name, queries.size(), mode));
        ModeResult m;
        m.mode = mode;
        Query q;
        q.k = o.k;
        q.snippets = false;
        q.bm25 = o.bm25;
        q.mode = parse_search_mode(mode);
        q.fusion = o.fusion;
        q.rm3 = o.rm3;
        q.ef = o.ef;
        q.vector_search = o.vector_search;
        q.rerank = o.rerank;
        q.rerank_depth = o.rerank_depth;
        Run run;
        for (const auto& qt : queries) {
            q.text = qt.text;
            auto& entries = run[qt.id];
            // Scores rounded as `rk query --format trec` prints them, so that `rk eval` of
            // that run and this figure agree, ties included.
            SearchStats did;
            for (const auto& h : search(index, q, &did)) {
                entries.push_back({h.id, std::round(h.score * 1e6) / 1e6});
            }
            if (!did.warnings.empty()) {
                throw ServiceError(did.warnings.front(),
                                   fmt::format("{}: query {}", r.name, qt.id));
            }
        }
        if (judged) {
            const Evaluation e = evaluate(qrels, run, metrics);
            for (std::size_t i = 0; i < metrics.size(); ++i) {
                m.quality.emplace_back(metrics[i].name(), e.mean[i]);
            }
        }
        // Speed: untimed warm-up passes, then timed passes over every query.
        for (int pass = 0; pass < o.warmup; ++pass) {
            for (const auto& qt : queries) {
                q.text = qt.text;
                (void)search(index, q);
            }
        }
        std::vector<double> times, pass_seconds;
        times.reserve(queries.size() * static_cast<std::size_t>(std::max(o.repeat, 1)));
        for (int pass = 0; pass < std::max(o.repeat, 1); ++pass) {
            double total = 0;
            for (const auto& qt : queries) {
                q.text = qt.text;
                const auto t0 = std::chrono::steady_clock::now();
                (void)search(index, q);
                const double ms =
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                        .count();
                times.push_back(ms);
                total += ms / 1000;
            }
            pass_seconds.push_back(total);
        }
        std::sort(times.begin(), times.end());
        std::sort(pass_seconds.begin(), pass_seconds.end());
        m.latency.median_ms = percentile(times, 0.5);
        m.latency.p95_ms = percentile(times, 0.95);
        m.latency.p99_ms = percentile(times, 0.99);
        double sum = 0;
        for (const double t : times) sum += t;
        m.latency.mean_ms = times.empty() ? 0 : sum / static_cast<double>(times.size());
        const double median_pass = percentile(pass_seconds, 0.5);
        m.latency.qps = median_pass > 0 ? static_cast<double>(queries.size()) / median_pass : 0;
        r.modes.push_back(std::move(m));
    }
    r.peak_rss_bytes = peak_rss_bytes();
    return r;
}

std::string bench_report(const std::vector<DatasetResult>& results, const BenchOptions& o) {
    JsonWriter w;
    utsname un{};
    const bool have_uname = uname(&un) == 0;
    w.begin_object().key("rk_version").value(version());
    w.key("build").begin_object().key("compiler").value(__VERSION__);
#ifdef NDEBUG
    w.key("assertions").value(false);
#else
    w.key("assertions").value(true);
#endif
#if defined(__SANITIZE_ADDRESS__)
    w.key("sanitizers").value(true);
#else
    w.key("sanitizers").value(false);
#endif
    w.end_object();
    w.key("machine")
        .begin_object()
        .key("cpu")
        .value(read_line_value("/proc/cpuinfo", "model name"))
        .key("cores")
        .value(static_cast<std::int64_t>(std::thread::hardware_concurrency()))
        .key("memory")
        .value(read_line_value("/proc/meminfo", "MemTotal"))
        .key("system")
        .value(have_uname ? fmt::format("{} {} {}", un.sysname, un.release, un.machine)
                          : std::string())
        .end_object();
    w.key("options")
        .begin_object()
        .key("k")
        .value(o.k)
        .key("warmup")
        .value(o.warmup)
        .key("repeat")
        .value(o.repeat)
        .key("metrics")
        .value(o.metrics)
        .key("bm25")
        .value(fmt::format("k1={},b={},title={},heading={},body={}", o.bm25.k1, o.bm25.b,
                           o.bm25.title, o.bm25.heading, o.bm25.body))
        .end_object();
    w.key("datasets").begin_array();
    for (const auto& r : results) {
        w.begin_object()
            .key("name")
            .value(r.name)
            .key("path")
            .value(r.path)
            .key("hash")
            .value(r.hash)
            .key("documents")
            .value(r.documents)
            .key("queries")
            .value(r.queries)
            .key("ingest_seconds")
            .value(r.ingest_seconds)
            .key("docs_per_s")
            .value(r.docs_per_s)
            .key("index_bytes")
            .value(r.index_bytes)
            .key("peak_rss_bytes")
            .value(r.peak_rss_bytes)
            .key("modes")
            .begin_object();
        for (const auto& m : r.modes) {
            w.key(m.mode).begin_object().key("quality").begin_object();
            for (const auto& [name, value] : m.quality) w.key(name).value(value);
            w.end_object()
                .key("latency")
                .begin_object()
                .key("median_ms")
                .value(m.latency.median_ms)
                .key("p95_ms")
                .value(m.latency.p95_ms)
                .key("p99_ms")
                .value(m.latency.p99_ms)
                .key("mean_ms")
                .value(m.latency.mean_ms)
                .key("qps")
                .value(m.latency.qps)
                .end_object()
                .end_object();
        }
        w.end_object().end_object();
    }
    w.end_array().end_object();
    return w.take();
}

namespace {

std::string show(double v) {
    return std::abs(v) >= 1000 ? fmt::format("{:.0f}", v) : fmt::format("{:.4f}", v);
}

struct Gate {
    std::string dataset, mode, figure;
    std::optional<double> min, max;
};

// Reads and checks the whole gate file, so that a typo fails at once instead of passing.
std::vector<Gate> read_gates(const fs::path& gate_file) {
    simdjson::dom::parser parser;
    simdjson::padded_string text;
    const auto root = parse_json_file(parser, gate_file, text);
    const std::string file = gate_file.string();
    simdjson::dom::object datasets;
    if (root.get(datasets) != simdjson::SUCCESS) {
        throw InputError("expected {\"DATASET\": {\"MODE\": {\"FIGURE\": {\"min\": X}}}}", file);
    }
    std::vector<Gate> gates;
    for (const auto [dataset, modes_el] : datasets) {
        simdjson::dom::object modes;
        if (modes_el.get(modes) != simdjson::SUCCESS) {
            throw InputError(fmt::format("{}: expected an object of modes", dataset), file);
        }
        for (const auto [mode, figures_el] : modes) {
            simdjson::dom::object figures;
            if (figures_el.get(figures) != simdjson::SUCCESS) {
                throw InputError(fmt::format("{}.{}: expected an object of figures", dataset, mode),
                                 file);
            }
            for (const auto [figure, bounds_el] : figures) {
                const std::string where = fmt::format("{}.{}.{}", dataset, mode, figure);
                simdjson::dom::object bounds;
                if (bounds_el.get(bounds) != simdjson::SUCCESS) {
                    throw InputError(
                        fmt::format("{}: expected {{\"min\": X}} or {{\"max\": Y}}", where), file);
                }
                Gate g{std::string(dataset), std::string(mode), std::string(figure), {}, {}};
                for (const auto [key, value] : bounds) {
                    double v = 0;
                    if (value.get(v) != simdjson::SUCCESS) {
                        throw InputError(fmt::format("{}.{}: expected a number", where, key), file);
                    }
                    if (key == "min") {
                        g.min = v;
                    } else if (key == "max") {
                        g.max = v;
                    } else {
                        throw InputError(
                            fmt::format("{}: unknown bound '{}' (expected min or max)", where, key),
                            file);
                    }
                }
                if (!g.min && !g.max) {
                    throw InputError(fmt::format("{}: no min or max", where), file);
                }
                gates.push_back(std::move(g));
            }
        }
    }
    return gates;
}

}  // namespace

std::vector<std::string> check_gates(const std::vector<DatasetResult>& results,
                                     const fs::path& gate_file) {
    std::vector<std::string> failed;
    for (const auto& g : read_gates(gate_file)) {
        for (const auto& r : results) {
            if (r.name != g.dataset) continue;
            const std::string where = fmt::format("{} {} {}", g.dataset, g.mode, g.figure);
            const auto value = r.figure(g.mode, g.figure);
            if (!value) {
                failed.push_back(fmt::format("{}: not measured", where));
                continue;
            }
            if (g.min && *value < *g.min) {
                failed.push_back(fmt::format("{} = {}, below the gate's minimum {}", where,
                                             show(*value), show(*g.min)));
            }
            if (g.max && *value > *g.max) {
                failed.push_back(fmt::format("{} = {}, above the gate's maximum {}", where,
                                             show(*value), show(*g.max)));
            }
        }
    }
    return failed;
}

std::vector<std::string> check_baseline(const std::vector<DatasetResult>& results,
                                        const fs::path& baseline_report, double max_pct) {
    simdjson::dom::parser parser;
    simdjson::padded_string text;
    const auto root = parse_json_file(parser, baseline_report, text);
    simdjson::dom::array datasets;
    if (root["datasets"].get(datasets) != simdjson::SUCCESS) {
        throw InputError("not an rk bench report (no datasets)", baseline_report.string());
    }
    const double slack = 1 + max_pct / 100;
    std::vector<std::string> failed;
    for (const auto& r : results) {
        bool found = false;
        for (const auto old : datasets) {
            std::string_view name, hash;
            if (old["name"].get(name) != simdjson::SUCCESS || name != r.name) continue;
            found = true;
            if (old["hash"].get(hash) == simdjson::SUCCESS && hash != r.hash) {
                failed.push_back(
                    fmt::format("{}: the dataset differs from the baseline's (hash {} vs {})",
                                r.name, r.hash, hash));
                break;
            }
            double before = 0;
            if (old["ingest_seconds"].get(before) == simdjson::SUCCESS &&
                r.ingest_seconds > before * slack && r.ingest_seconds - before > 0.05) {
                failed.push_back(fmt::format(
                    "{} ingest took {:.3f} s, {:.1f}% over the "
                    "baseline's {:.3f} s",
                    r.name, r.ingest_seconds, (r.ingest_seconds / before - 1) * 100, before));
            }
            for (const auto& m : r.modes) {
                for (const auto& [metric, value] : m.quality) {
                    if (old["modes"][m.mode]["quality"][metric].get(before) != simdjson::SUCCESS) {
                        continue;
                    }
                    // Quality is deterministic: any drop beyond rounding is a regression.
                    if (value < before - 5e-5) {
                        failed.push_back(fmt::format("{} {} {} fell to {:.4f} from {:.4f}", r.name,
                                                     m.mode, metric, value, before));
                    }
                }
                if (old["modes"][m.mode]["latency"]["median_ms"].get(before) == simdjson::SUCCESS &&
                    m.latency.median_ms > before * slack) {
                    failed.push_back(fmt::format(
                        "{} {} median latency {:.3f} ms, {:.1f}% over the baseline's {:.3f} ms",
                        r.name, m.mode, m.latency.median_ms,
                        (m.latency.median_ms / before - 1) * 100, before));
                }
            }
            break;
        }
        if (!found) {
            failed.push_back(
                fmt::format("{}: not in the baseline report, nothing to compare", r.name));
        }
    }
    return failed;
}

}  // namespace rk
