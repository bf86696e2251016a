// The readers of rk eval's inputs: TREC qrels (and BEIR's test.tsv), TREC runs (ids written
// escaped), query files (lines or JSONL), metric lists, and the metrics over what they read.
// The input is a qrels file, then (after the first NUL byte, if any) a run file; without a
// NUL both are read from the same bytes.
#include <cstring>
#include <sstream>

#include "rk/error.hpp"
#include "rk/eval.hpp"
#include "scratch_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static rk::fuzz::ScratchFile qrels_file("qrels"), run_file("run");
    const auto* nul = static_cast<const std::uint8_t*>(std::memchr(data, 0, size));
    const std::size_t qrels_size = nul != nullptr ? static_cast<std::size_t>(nul - data) : size;
    const std::uint8_t* run_data = nul != nullptr ? nul + 1 : data;
    const std::size_t run_size = nul != nullptr ? size - qrels_size - 1 : size;

    rk::Qrels qrels;
    try {
        qrels = rk::read_qrels(qrels_file.write(data, qrels_size));
    } catch (const rk::InputError&) {
    }
    rk::Run run;
    run_file.write(run_data, run_size);
    try {
        (void)rk::read_run(run_file.path(), qrels, false);
    } catch (const rk::InputError&) {
    }
    try {
        run = rk::read_run(run_file.path(), qrels, true);
    } catch (const rk::InputError&) {
    }
    static const auto metrics = rk::parse_metrics("ndcg@10,recall@100,mrr@10,map@100,p@5");
    (void)rk::evaluate(qrels, run, metrics);

    const std::string text(reinterpret_cast<const char*>(data), size);
    std::istringstream in(text);
    try {
        (void)rk::read_queries(in, "queries");
    } catch (const rk::InputError&) {
    }
    // A metric list is one line of a config file or the command line.
    try {
        (void)rk::parse_metrics(text.substr(0, text.find('\n')));
    } catch (const rk::Error&) {
    }
    return 0;
}
