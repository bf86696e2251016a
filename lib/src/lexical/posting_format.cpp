#include "lexical/posting_format.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "rk/error.hpp"

namespace rk::lexical {

namespace {

[[noreturn, gnu::cold]] void malformed() {
    throw IndexError("malformed posting list");
}

void put_varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out += static_cast<char>((v & 0x7F) | 0x80);
        v >>= 7;
    }
    out += static_cast<char>(v);
}

std::uint64_t get_varint(std::string_view bytes, std::size_t& pos) {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (pos >= bytes.size()) throw IndexError("truncated posting list");
        const auto b = static_cast<unsigned char>(bytes[pos++]);
        v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
        if ((b & 0x80) == 0) return v;
    }
    throw IndexError("malformed posting list");
}

// get_varint() without the end checks, for when at least 10 bytes remain.
inline std::uint64_t get_varint_unchecked(const unsigned char* p, std::size_t& pos) {
    std::uint64_t v = p[pos] & 0x7FU;
    if ((p[pos++] & 0x80U) == 0) return v;
    for (int shift = 7; shift < 64; shift += 7) {
        const unsigned b = p[pos++];
        v |= static_cast<std::uint64_t>(b & 0x7FU) << shift;
        if ((b & 0x80U) == 0) return v;
    }
    malformed();
}

inline std::uint32_t to_u32(std::uint64_t v) {
    if (v > 0xFFFFFFFFU) malformed();
    return static_cast<std::uint32_t>(v);
}

constexpr std::uint64_t kMaxChunk = std::uint64_t{1} << 62;

}  // namespace

namespace {

// Counts in the fields set in `mask`, as entries keep them.
void put_counts(std::string& out, const std::array<std::uint32_t, kFields>& tf) {
    for (std::size_t f = 0; f < kFields; ++f) {
        if (tf[f] != 0) put_varint(out, tf[f]);
    }
}
unsigned field_mask(const std::array<std::uint32_t, kFields>& tf) {
    unsigned mask = 0;
    for (std::size_t f = 0; f < kFields; ++f) mask |= (tf[f] != 0 ? 1U : 0U) << f;
    return mask;
}
void get_counts(std::string_view bytes, std::size_t& pos, std::uint64_t mask,
                std::array<std::uint32_t, kFields>& tf) {
    for (std::size_t f = 0; f < kFields; ++f) {
        if ((mask & (1U << f)) != 0) tf[f] = to_u32(get_varint(bytes, pos));
    }
}

bool covers(const Impact& a, const Impact& b) {
    for (std::size_t f = 0; f < kFields; ++f) {
        if (a.tf[f] < b.tf[f]) return false;
    }
    return a.length <= b.length;
}

}  // namespace

std::vector<Impact> impacts_of(const Posting* postings, std::size_t n) {
    // One pass: each entry either is covered by one kept, or joins them and drops those it
    // covers. The frontier stays small (a few distinct counts), so this is about linear.
    std::vector<Impact> kept;
    for (std::size_t i = 0; i < n; ++i) {
        const Impact e{postings[i].tf, postings[i].length};
        if (std::any_of(kept.begin(), kept.end(), [&](const Impact& k) { return covers(k, e); })) {
            continue;
        }
        std::erase_if(kept, [&](const Impact& k) { return covers(e, k); });
        kept.push_back(e);
    }
    return kept;
}

EncodedList encode_list(const std::vector<Posting>& postings) {
    EncodedList out;
    std::vector<BlockInfo> infos;
    std::vector<std::vector<Impact>> impacts;
    std::int64_t last = 0;
    for (std::size_t start = 0; start < postings.size(); start += kBlockSize) {
        const std::size_t end = std::min(postings.size(), start + kBlockSize);
        BlockInfo info;
        std::string payload;
        payload.reserve((end - start) * 6);
        for (std::size_t i = start; i < end; ++i) {
            const Posting& p = postings[i];
            if (p.chunk <= last) throw IndexError("posting list out of order");
            // The gap and a mask of the fields that hold the term share one varint; absent
            // fields (most often title and heading) cost nothing.
            put_varint(payload,
                       (static_cast<std::uint64_t>(p.chunk - last) << kFields) | field_mask(p.tf));
            put_counts(payload, p.tf);
            put_varint(payload, p.length);
            last = p.chunk;
        }
        info.last = last;
        info.bytes = static_cast<std::uint32_t>(payload.size());
        infos.push_back(info);
        impacts.push_back(impacts_of(postings.data() + start, end - start));
        const std::size_t b = start / kBlockSize;
        if (b % kBlocksPerPage == 0) out.pages.emplace_back();
        out.pages.back() += payload;
    }
    put_varint(out.head, infos.size());
    std::int64_t previous = 0;
    for (std::size_t b = 0; b < infos.size(); ++b) {
        put_varint(out.head, static_cast<std::uint64_t>(infos[b].last - previous));
        put_varint(out.head, infos[b].bytes);
        put_varint(out.head, impacts[b].size());
        for (const auto& i : impacts[b]) {
            put_varint(out.head, field_mask(i.tf));
            put_counts(out.head, i.tf);
            put_varint(out.head, i.length);
        }
        previous = infos[b].last;
    }
    if (infos.size() == 1) {
        out.head += out.pages.front();
        out.pages.clear();
    }
    return out;
}

TermList decode_head(std::string_view head) {
    TermList list;
    std::size_t pos = 0;
    const std::uint64_t n = get_varint(head, pos);
    if (n == 0 || n > head.size()) throw IndexError("malformed posting list head");
    list.blocks.resize(static_cast<std::size_t>(n));
    std::uint64_t last = 0;
    for (auto& b : list.blocks) {
        const std::uint64_t gap = get_varint(head, pos);
        if (gap == 0 || gap > kMaxChunk - last) throw IndexError("malformed posting list head");
        last += gap;
        b.last = static_cast<std::int64_t>(last);
        b.bytes = to_u32(get_varint(head, pos));
        const std::uint64_t impacts = get_varint(head, pos);
        if (impacts == 0 || impacts > kBlockSize) throw IndexError("malformed posting list head");
        for (std::uint64_t i = 0; i < impacts; ++i) {
            Impact impact;
            get_counts(head, pos, get_varint(head, pos), impact.tf);
            impact.length = to_u32(get_varint(head, pos));
            list.impacts.push_back(impact);
        }
        b.impacts_end = static_cast<std::uint32_t>(list.impacts.size());
    }
    for (std::size_t b = 0; b < list.blocks.size(); ++b) {
        list.blocks[b].offset =
            b % kBlocksPerPage == 0 ? 0 : list.blocks[b - 1].offset + list.blocks[b - 1].bytes;
    }
    if (n == 1) {
        list.inline_block.assign(head.substr(pos));
        if (list.inline_block.size() != list.blocks.front().bytes) {
            throw IndexError("malformed posting list head");
        }
    } else if (pos != head.size()) {
        throw IndexError("malformed posting list head");
    }
    return list;
}

void decode_block(std::string_view payload, std::int64_t base, std::int64_t last,
                  std::vector<Posting>& out) {
    std::size_t pos = 0;
    auto chunk = static_cast<std::uint64_t>(base);
    const auto* bytes = reinterpret_cast<const unsigned char*>(payload.data());
    // An entry is a varint of at most 10 bytes and at most four of 5 (32-bit values): far
    // from the end, none is checked.
    constexpr std::size_t kEntryMax = 30;
    out.reserve(out.size() + kBlockSize);
    while (pos < payload.size()) {
        Posting p;
        std::uint64_t head = 0;
        if (payload.size() - pos >= kEntryMax) {
            head = get_varint_unchecked(bytes, pos);
            for (std::size_t f = 0; f < kFields; ++f) {
                if ((head & (1U << f)) != 0) p.tf[f] = to_u32(get_varint_unchecked(bytes, pos));
            }
            p.length = to_u32(get_varint_unchecked(bytes, pos));
        } else {
            head = get_varint(payload, pos);
            get_counts(payload, pos, head, p.tf);
            p.length = to_u32(get_varint(payload, pos));
        }
        const std::uint64_t gap = head >> kFields;
        if (gap == 0 || gap > kMaxChunk - chunk) throw IndexError("malformed posting list");
        chunk += gap;
        p.chunk = static_cast<std::int64_t>(chunk);
        out.push_back(p);
    }
    if (static_cast<std::int64_t>(chunk) != last) {
        throw IndexError("posting block does not end where its head says");
    }
}

void write_list(store::Database& db, std::int64_t seg, std::string_view term,
                const std::vector<Posting>& postings) {
    const EncodedList list = encode_list(postings);
    db.cached("INSERT INTO lex_postings(seg, term, df, data) VALUES(?1, ?2, ?3, ?4)")
        .bind(1, seg)
        .bind(2, term)
        .bind(3, static_cast<std::int64_t>(postings.size()))
        .bind_blob(4, list.head)
        .run();
    auto& page = db.cached("INSERT INTO lex_blocks(seg, term, page, data) VALUES(?1, ?2, ?3, ?4)");
    for (std::size_t p = 0; p < list.pages.size(); ++p) {
        page.bind(1, seg)
            .bind(2, term)
            .bind(3, static_cast<std::int64_t>(p))
            .bind_blob(4, list.pages[p])
            .run();
    }
}

namespace {

IndexError list_error(const store::Database& db, std::int64_t seg, std::string_view term,
                      const IndexError& e) {
    return IndexError(fmt::format("postings of '{}' in segment {}: {} (run `rk index rebuild`)",
                                  term, seg, e.what()),
                      db.file().string());
}

}  // namespace

void read_block(store::Database& db, std::int64_t seg, std::string_view term, const TermList& list,
                std::size_t b, std::vector<Posting>& out, PageCache& cache) {
    out.clear();
    const std::int64_t base = b == 0 ? 0 : list.blocks[b - 1].last;
    try {
        if (list.blocks.size() == 1) {
            decode_block(list.inline_block, base, list.blocks[b].last, out);
            return;
        }
        const auto page = static_cast<std::int64_t>(b / kBlocksPerPage);
        if (cache.page != page) {
            cache.page = -1;
            auto& st =
                db.cached("SELECT data FROM lex_blocks WHERE seg = ?1 AND term = ?2 AND page = ?3");
            st.bind(1, seg).bind(2, term).bind(3, page);
            if (!st.step()) {
                st.reset();
                throw IndexError(fmt::format("page {} is missing", page));
            }
            cache.bytes.assign(st.blob(0));
            st.reset();
            cache.page = page;
        }
        const BlockInfo& info = list.blocks[b];
        if (std::size_t{info.offset} + info.bytes > cache.bytes.size()) {
            throw IndexError(fmt::format("page {} is shorter than its blocks", page));
        }
        decode_block(std::string_view(cache.bytes).substr(info.offset, info.bytes), base, info.last,
                     out);
    } catch (const IndexError& e) {
        throw list_error(db, seg, term, e);
    }
}

bool read_list(store::Database& db, std::int64_t seg, std::string_view term,
               std::vector<Posting>& out) {
    out.clear();
    auto& st = db.cached("SELECT data FROM lex_postings WHERE seg = ?1 AND term = ?2");
    st.bind(1, seg).bind(2, term);
    if (!st.step()) {
        st.reset();
        return false;
    }
    TermList list;
    try {
        list = decode_head(st.blob(0));
    } catch (const IndexError& e) {
        st.reset();
        throw list_error(db, seg, term, e);
    }
    st.reset();
    std::vector<Posting> block;
    PageCache cache;
    for (std::size_t b = 0; b < list.blocks.size(); ++b) {
        read_block(db, seg, term, list, b, block, cache);
        out.insert(out.end(), block.begin(), block.end());
    }
    return true;
}

}  // namespace rk::lexical
