#include "lexical/posting_format.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>

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

inline std::uint64_t get_varint(std::string_view bytes, std::size_t& pos) {
    // Most values in heads and directories take one byte.
    if (pos < bytes.size() && static_cast<unsigned char>(bytes[pos]) < 0x80) {
        return static_cast<unsigned char>(bytes[pos++]);
    }
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (pos >= bytes.size()) throw IndexError("truncated posting list");
        const auto b = static_cast<unsigned char>(bytes[pos++]);
        v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
        if ((b & 0x80) == 0) return v;
    }
    throw IndexError("malformed posting list");
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

// Bits written low first, as BitReader reads them.
class BitWriter {
  public:
    explicit BitWriter(std::string& out) : out_(out) {}
    void put(std::uint64_t v, unsigned width) {
        while (width > 0) {
            const unsigned take = std::min(width, 32U);
            acc_ |= (v & ((std::uint64_t{1} << take) - 1)) << held_;
            held_ += take;
            v >>= take;
            width -= take;
            for (; held_ >= 8; held_ -= 8, acc_ >>= 8) out_ += static_cast<char>(acc_ & 0xFF);
        }
    }
    void flush() {
        if (held_ > 0) out_ += static_cast<char>(acc_ & 0xFF);
        acc_ = 0;
        held_ = 0;
    }

  private:
    std::string& out_;
    std::uint64_t acc_ = 0;
    unsigned held_ = 0;
};

unsigned width_of(std::uint64_t max) {
    return static_cast<unsigned>(std::bit_width(max));
}

// Entries [start, end) as a block's payload (see the header).
std::string encode_block(const std::vector<Posting>& postings, std::size_t start, std::size_t end) {
    const std::size_t n = end - start;
    unsigned fields = 0;
    std::uint64_t max_gap = 0;
    std::array<std::uint32_t, kFields> max_tf{};
    std::uint32_t min_len = postings[start].length, max_len = min_len;
    for (std::size_t i = start; i < end; ++i) {
        const Posting& p = postings[i];
        fields |= field_mask(p.tf);
        if (i > start) {
            max_gap =
                std::max(max_gap, static_cast<std::uint64_t>(p.chunk - postings[i - 1].chunk - 1));
        }
        for (std::size_t f = 0; f < kFields; ++f) max_tf[f] = std::max(max_tf[f], p.tf[f]);
        min_len = std::min(min_len, p.length);
        max_len = std::max(max_len, p.length);
    }
    std::string payload;
    payload.reserve(8 + n * 3);
    payload += static_cast<char>(n - 1);
    payload += static_cast<char>(fields);
    const unsigned gap_width = width_of(max_gap);
    payload += static_cast<char>(gap_width);
    for (std::size_t f = 0; f < kFields; ++f) {
        if ((fields & (1U << f)) != 0) payload += static_cast<char>(width_of(max_tf[f]));
    }
    const unsigned len_width = width_of(max_len - min_len);
    payload += static_cast<char>(len_width);
    put_varint(payload, min_len);
    BitWriter bits(payload);
    for (std::size_t i = start + 1; i < end; ++i) {
        bits.put(static_cast<std::uint64_t>(postings[i].chunk - postings[i - 1].chunk - 1),
                 gap_width);
    }
    for (std::size_t f = 0; f < kFields; ++f) {
        if ((fields & (1U << f)) == 0) continue;
        for (std::size_t i = start; i < end; ++i) bits.put(postings[i].tf[f], width_of(max_tf[f]));
    }
    for (std::size_t i = start; i < end; ++i) bits.put(postings[i].length - min_len, len_width);
    bits.flush();
    return payload;
}

// Reads bits low first from a buffer with at least 8 readable bytes past the last bit it is
// asked for.
class BitReader {
  public:
    explicit BitReader(const unsigned char* bytes) : bytes_(bytes) {}
    // The next `width` bits (at most 32).
    std::uint32_t get(unsigned width) {
        std::uint64_t word = 0;
        std::memcpy(&word, bytes_ + (at_ >> 3), sizeof word);
        if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
        const std::uint64_t v = (word >> (at_ & 7)) & ((std::uint64_t{1} << width) - 1);
        at_ += width;
        return static_cast<std::uint32_t>(v);
    }
    // The next `width` bits (at most 64).
    std::uint64_t get_wide(unsigned width) {
        if (width <= 32) return get(width);
        const std::uint64_t low = get(32);
        return low | (static_cast<std::uint64_t>(get(width - 32)) << 32);
    }

  private:
    const unsigned char* bytes_;
    std::size_t at_ = 0;
};

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
    list.impacts.reserve(list.pages.size() * 4);
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

void decode_block(std::string_view page, const BlockRef& block, Block& out) {
    if (block.offset > page.size() || block.bytes > page.size() - block.offset) malformed();
    const std::string_view payload = page.substr(block.offset, block.bytes);
    const auto* bytes = reinterpret_cast<const unsigned char*>(payload.data());
    std::size_t pos = 0;
    auto byte = [&] {
        if (pos >= payload.size()) throw IndexError("truncated posting block");
        return bytes[pos++];
    };
    const std::size_t n = std::size_t{byte()} + 1;
    const unsigned fields = byte();
    const unsigned gap_width = byte();
    if (n > kBlockSize || fields >= (1U << kFields) || gap_width > kMaxGapWidth) malformed();
    std::array<unsigned, kFields> tf_width{};
    std::size_t bits = (n - 1) * gap_width;
    for (std::size_t f = 0; f < kFields; ++f) {
        if ((fields & (1U << f)) == 0) continue;
        tf_width[f] = byte();
        if (tf_width[f] > kMaxCountWidth) malformed();
        bits += n * tf_width[f];
    }
    const unsigned len_width = byte();
    if (len_width > kMaxCountWidth) malformed();
    bits += n * len_width;
    const std::uint64_t min_len = get_varint(payload, pos);
    if (min_len + ((std::uint64_t{1} << len_width) - 1) > 0xFFFFFFFFU ||
        payload.size() - pos != (bits + 7) / 8) {
        malformed();
    }
    const std::size_t bytes_of_bits = payload.size() - pos;
    std::memcpy(out.bits_.data(), bytes + pos, bytes_of_bits);
    std::memset(out.bits_.data() + bytes_of_bits, 0, 8);
    BitReader in(out.bits_.data());

    out.size_ = n;
    out.fields_ = fields;
    auto chunk = static_cast<std::uint64_t>(block.first);
    out.chunk_[0] = block.first;
    for (std::size_t i = 1; i < n; ++i) {
        chunk += in.get_wide(gap_width) + 1;  // both under 2^62: no overflow
        if (chunk > kMaxChunk) malformed();
        out.chunk_[i] = static_cast<std::int64_t>(chunk);
    }
    if (static_cast<std::int64_t>(chunk) != block.last) {
        throw IndexError("posting block does not end where its page says");
    }
    std::size_t at = (n - 1) * gap_width;
    for (std::size_t f = 0; f < kFields; ++f) {
        out.tf_at_[f] = at;
        out.tf_width_[f] = tf_width[f];
        at += n * tf_width[f];
    }
    out.length_at_ = at;
    out.length_width_ = len_width;
    out.min_length_ = static_cast<std::uint32_t>(min_len);
}

void decode_block(std::string_view page, const BlockRef& block, std::vector<Posting>& out) {
    const auto b = std::make_unique<Block>();
    decode_block(page, block, *b);
    out.reserve(out.size() + b->size());
    for (std::size_t i = 0; i < b->size(); ++i) {
        Posting p;
        p.chunk = b->chunk(i);
        for (std::size_t f = 0; f < kFields; ++f) p.tf[f] = b->tf(f, i);
        p.length = b->length(i);
        out.push_back(p);
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
