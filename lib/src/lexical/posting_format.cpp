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

namespace {

void put_impacts(std::string& out, const std::vector<Impact>& impacts) {
    put_varint(out, impacts.size());
    for (const auto& i : impacts) {
        put_varint(out, field_mask(i.tf));
        put_counts(out, i.tf);
        put_varint(out, i.length);
    }
}

// Entries [start, end) as a block's payload: the first gap from first - 1.
std::string encode_block(const std::vector<Posting>& postings, std::size_t start, std::size_t end) {
    std::string payload;
    payload.reserve((end - start) * 6);
    std::int64_t last = postings[start].chunk - 1;
    for (std::size_t i = start; i < end; ++i) {
        const Posting& p = postings[i];
        // The gap and a mask of the fields that hold the term share one varint; absent fields
        // (most often title and heading) cost nothing.
        put_varint(payload,
                   (static_cast<std::uint64_t>(p.chunk - last) << kFields) | field_mask(p.tf));
        put_counts(payload, p.tf);
        put_varint(payload, p.length);
        last = p.chunk;
    }
    return payload;
}

}  // namespace

EncodedList encode_list(const std::vector<Posting>& postings) {
    for (std::size_t i = 0; i < postings.size(); ++i) {
        if (postings[i].chunk <= (i == 0 ? 0 : postings[i - 1].chunk)) {
            throw IndexError("posting list out of order");
        }
    }
    EncodedList out;
    std::string head;
    const std::size_t per_page = kBlockSize * kBlocksPerPage;
    const std::size_t pages = (postings.size() + per_page - 1) / per_page;
    put_varint(head, pages);
    std::int64_t previous = 0;  // the last chunk id of the previous page
    for (std::size_t p = 0; p < pages; ++p) {
        const std::size_t start = p * per_page;
        const std::size_t end = std::min(postings.size(), start + per_page);
        // The page: its blocks' first and last ids (from the previous block's last) and
        // sizes, then their entries.
        std::string dir, payloads;
        const std::size_t blocks = (end - start + kBlockSize - 1) / kBlockSize;
        put_varint(dir, blocks);
        std::int64_t before = postings[start].chunk - 1;
        for (std::size_t b = start; b < end; b += kBlockSize) {
            const std::size_t e = std::min(end, b + kBlockSize);
            const std::string payload = encode_block(postings, b, e);
            put_varint(dir, static_cast<std::uint64_t>(postings[b].chunk - before));
            put_varint(dir, static_cast<std::uint64_t>(postings[e - 1].chunk - postings[b].chunk));
            put_varint(dir, payload.size());
            payloads += payload;
            before = postings[e - 1].chunk;
        }
        std::string page = dir + payloads;
        put_varint(head, static_cast<std::uint64_t>(postings[start].chunk - previous));
        put_varint(head,
                   static_cast<std::uint64_t>(postings[end - 1].chunk - postings[start].chunk));
        put_varint(head, page.size());
        put_impacts(head, impacts_of(postings.data() + start, end - start));
        previous = postings[end - 1].chunk;
        out.pages.push_back(std::move(page));
    }
    // A list of one block keeps its page in the head.
    if (postings.size() <= kBlockSize && pages == 1) {
        head += out.pages.front();
        out.pages.clear();
    }
    out.head = std::move(head);
    return out;
}

TermList decode_head(std::string_view head) {
    TermList list;
    std::size_t pos = 0;
    const std::uint64_t n = get_varint(head, pos);
    if (n == 0 || n > head.size()) throw IndexError("malformed posting list head");
    list.pages.resize(static_cast<std::size_t>(n));
    std::uint64_t last = 0;
    for (auto& p : list.pages) {
        const std::uint64_t gap = get_varint(head, pos);
        if (gap == 0 || gap > kMaxChunk - last) throw IndexError("malformed posting list head");
        p.first = static_cast<std::int64_t>(last + gap);
        const std::uint64_t span = get_varint(head, pos);
        if (span > kMaxChunk - last - gap) throw IndexError("malformed posting list head");
        last += gap + span;
        p.last = static_cast<std::int64_t>(last);
        p.bytes = to_u32(get_varint(head, pos));
        const std::uint64_t impacts = get_varint(head, pos);
        if (impacts == 0 || impacts > kBlockSize * kBlocksPerPage) {
            throw IndexError("malformed posting list head");
        }
        for (std::uint64_t i = 0; i < impacts; ++i) {
            Impact impact;
            get_counts(head, pos, get_varint(head, pos), impact.tf);
            impact.length = to_u32(get_varint(head, pos));
            list.impacts.push_back(impact);
        }
        p.impacts_end = static_cast<std::uint32_t>(list.impacts.size());
    }
    if (pos < head.size()) {
        list.inline_page.assign(head.substr(pos));
        if (n != 1 || list.inline_page.size() != list.pages.front().bytes) {
            throw IndexError("malformed posting list head");
        }
    }
    return list;
}

void decode_page(std::string_view page, const PageInfo& info, std::vector<BlockRef>& blocks) {
    blocks.clear();
    if (page.size() != info.bytes) throw IndexError("posting page of the wrong size");
    std::size_t pos = 0;
    const std::uint64_t n = get_varint(page, pos);
    if (n == 0 || n > kBlocksPerPage) throw IndexError("malformed posting page");
    std::uint64_t before = static_cast<std::uint64_t>(info.first) - 1;
    std::uint64_t offset = 0;
    for (std::uint64_t b = 0; b < n; ++b) {
        BlockRef r;
        const std::uint64_t gap = get_varint(page, pos);
        const std::uint64_t span = get_varint(page, pos);
        if ((b == 0 ? gap != 1 : gap == 0) || gap > kMaxChunk - before ||
            span > kMaxChunk - before - gap) {
            throw IndexError("malformed posting page");
        }
        r.first = static_cast<std::int64_t>(before + gap);
        r.last = static_cast<std::int64_t>(before + gap + span);
        r.bytes = to_u32(get_varint(page, pos));
        r.offset = static_cast<std::uint32_t>(offset);
        offset += r.bytes;
        before = static_cast<std::uint64_t>(r.last);
        blocks.push_back(r);
    }
    if (static_cast<std::int64_t>(before) != info.last || offset != page.size() - pos) {
        throw IndexError("posting page disagrees with its head");
    }
    for (auto& r : blocks) r.offset += static_cast<std::uint32_t>(pos);
}

void decode_block(std::string_view page, const BlockRef& block, std::vector<Posting>& out) {
    const std::string_view payload = page.substr(block.offset, block.bytes);
    std::size_t pos = 0;
    auto chunk = static_cast<std::uint64_t>(block.first) - 1;
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
        if (gap == 0 || gap > kMaxChunk - chunk) malformed();
        chunk += gap;
        p.chunk = static_cast<std::int64_t>(chunk);
        out.push_back(p);
    }
    if (static_cast<std::int64_t>(chunk) != block.last) {
        throw IndexError("posting block does not end where its page says");
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

IndexError list_error(const store::Database& db, std::int64_t seg, std::string_view term,
                      const IndexError& e) {
    return IndexError(fmt::format("postings of '{}' in segment {}: {} (run `rk index rebuild`)",
                                  term, seg, e.what()),
                      db.file().string());
}

void read_page(store::Database& db, std::int64_t seg, std::string_view term, const TermList& list,
               std::size_t p, std::string& bytes, std::vector<BlockRef>& blocks) {
    try {
        if (!list.inline_page.empty()) {
            bytes = list.inline_page;
        } else {
            auto& st =
                db.cached("SELECT data FROM lex_blocks WHERE seg = ?1 AND term = ?2 AND page = ?3");
            st.bind(1, seg).bind(2, term).bind(3, static_cast<std::int64_t>(p));
            if (!st.step()) {
                st.reset();
                throw IndexError(fmt::format("page {} is missing", p));
            }
            bytes.assign(st.blob(0));
            st.reset();
        }
        decode_page(bytes, list.pages[p], blocks);
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
    std::string bytes;
    std::vector<BlockRef> blocks;
    for (std::size_t p = 0; p < list.pages.size(); ++p) {
        read_page(db, seg, term, list, p, bytes, blocks);
        try {
            for (const auto& b : blocks) decode_block(bytes, b, out);
        } catch (const IndexError& e) {
            throw list_error(db, seg, term, e);
        }
    }
    return true;
}

}  // namespace rk::lexical
