#include "ingest/chunker.hpp"

#include <cstdint>

namespace rk::inputs {

namespace {

struct Word {
    std::size_t start, end;
};

bool is_space(char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

void words_in(std::string_view text, const Segment& seg, std::vector<Word>& out) {
    out.clear();
    std::size_t i = seg.start;
    const std::size_t end = std::min(seg.end, text.size());
    while (i < end) {
        while (i < end && is_space(text[i])) ++i;
        if (i >= end) break;
        const std::size_t s = i;
        while (i < end && !is_space(text[i])) ++i;
        out.push_back({s, i});
    }
}

bool ends_sentence(std::string_view text, const Word& w) {
    std::size_t e = w.end;
    // Closing quotes and brackets after the full stop: `end.)` `end."`
    while (e > w.start && (text[e - 1] == ')' || text[e - 1] == '"' || text[e - 1] == '\'' ||
                           text[e - 1] == ']')) {
        --e;
    }
    if (e == w.start) return false;
    const char c = text[e - 1];
    return c == '.' || c == '!' || c == '?' || c == ':' || c == ';';
}

}  // namespace

std::vector<store::ChunkRecord> make_chunks(std::string_view text,
                                            const std::vector<Segment>& segments, int size,
                                            int overlap) {
    const auto max = static_cast<std::size_t>(size);
    const auto ov = static_cast<std::size_t>(overlap);
    std::vector<store::ChunkRecord> out;
    std::vector<Word> cur, words;
    std::string heading;

    auto emit = [&](const Word* first, const Word* last) {
        store::ChunkRecord c;
        c.heading = heading;
        c.start = static_cast<std::int64_t>(first->start);
        c.end = static_cast<std::int64_t>(last->end);
        c.tokens = last - first + 1;
        c.text = std::string(text.substr(first->start, last->end - first->start));
        out.push_back(std::move(c));
    };
    auto flush = [&] {
        if (!cur.empty()) emit(&cur.front(), &cur.back());
        cur.clear();
    };

    bool heading_only = false;  // `cur` holds just a heading line
    for (const auto& seg : segments) {
        words_in(text, seg, words);
        if (words.empty()) continue;
        const bool overflows = cur.size() + words.size() > max;
        if (heading_only && !seg.section_start && overflows) {
            // A heading is never a chunk of its own: it leads the first piece of its text.
            words.insert(words.begin(), cur.begin(), cur.end());
            cur.clear();
        } else if (seg.section_start || overflows) {
            flush();
        }
        heading_only = seg.section_start;
        // A paragraph has the heading path of the heading it follows, prepended or not.
        if (cur.empty()) heading = seg.heading;
        if (words.size() <= max) {
            cur.insert(cur.end(), words.begin(), words.end());
            continue;
        }
        heading_only = false;
        std::size_t i = 0;
        while (words.size() - i > max) {
            std::size_t cut = i + max;
            for (std::size_t j = cut - 1; j > i + max / 2; --j) {
                if (ends_sentence(text, words[j])) {
                    cut = j + 1;
                    break;
                }
            }
            emit(&words[i], &words[cut - 1]);
            heading = seg.heading;
            i = cut > i + ov ? cut - ov : cut;
        }
        cur.assign(words.begin() + static_cast<std::ptrdiff_t>(i), words.end());
    }
    flush();
    if (out.empty()) out.push_back(store::ChunkRecord{});
    return out;
}

}  // namespace rk::inputs
