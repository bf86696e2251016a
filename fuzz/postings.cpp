// A posting file (postings/seg-N.rkp) damaged: opened as a query opens it (its trailer and
// term table checked), its terms looked up, their heads decoded and their pages checked and
// decoded, as a cursor reads them.
//
// The file carries checksums (its trailer's, its table's and each head's), which random bytes
// almost never match, so the first byte of an input says what to mend before the file is
// written: bit 0 the trailer's magic, format and both checksums, bit 1 each head's checksum.
// Mended, mutations reach the checks of offsets, sizes and encodings behind them.
#include <cstring>
#include <string>
#include <vector>

#include "lexical/posting_format.hpp"
#include "lexical/segment_file.hpp"
#include "lexical/segment_file_format.hpp"
#include "rk/error.hpp"
#include "scratch_file.hpp"

namespace {

namespace format = rk::lexical::posting_file;

bool within(std::uint64_t at, std::uint64_t count, std::uint64_t each, std::uint64_t size) {
    std::uint64_t bytes = 0;
    return !__builtin_mul_overflow(count, each, &bytes) && at <= size && bytes <= size - at;
}

format::Trailer trailer_of(const std::string& file) {
    format::Trailer t{};
    std::memcpy(&t, file.data() + file.size() - sizeof t, sizeof t);
    return t;
}

// The terms the table names, where it names them within the file (at most 64).
std::vector<std::string> terms_of(const std::string& file) {
    const format::Trailer t = trailer_of(file);
    const std::uint64_t end = file.size() - sizeof t;
    std::vector<std::string> out;
    if (!within(t.table_at, t.terms, sizeof(format::TermRecord), end) ||
        !within(t.table_at + t.terms * sizeof(format::TermRecord), t.pages, 8, end)) {
        return out;
    }
    const std::uint64_t strings = t.table_at + t.terms * sizeof(format::TermRecord) + t.pages * 8;
    for (std::uint64_t i = 0; i < t.terms && i < 64; ++i) {
        format::TermRecord r{};
        std::memcpy(&r, file.data() + t.table_at + i * sizeof r, sizeof r);
        if (within(strings + r.term_at, r.term_bytes, 1, end)) {
            out.emplace_back(file.substr(strings + r.term_at, r.term_bytes));
        }
    }
    return out;
}

void mend_heads(std::string& file) {
    const format::Trailer t = trailer_of(file);
    const std::uint64_t end = file.size() - sizeof t;
    if (!within(t.table_at, t.terms, sizeof(format::TermRecord), end)) return;
    for (std::uint64_t i = 0; i < t.terms && i < 4096; ++i) {
        format::TermRecord r{};
        char* at = file.data() + t.table_at + i * sizeof r;
        std::memcpy(&r, at, sizeof r);
        if (!within(r.data_at, r.head_bytes, 1, t.table_at)) continue;
        r.head_sum = XXH3_64bits(file.data() + r.data_at, r.head_bytes);
        std::memcpy(at, &r, sizeof r);
    }
}

void mend_trailer(std::string& file) {
    format::Trailer t = trailer_of(file);
    std::memcpy(t.magic, format::kMagic, sizeof t.magic);
    t.format = format::kFormat;
    const std::uint64_t end = file.size() - sizeof t;
    if (t.table_at <= end) t.index_sum = XXH3_64bits(file.data() + t.table_at, end - t.table_at);
    t.trailer_sum = format::trailer_sum(t);
    std::memcpy(file.data() + end, &t, sizeof t);
}

// Reads a term's list as a cursor does: the head, then each page the head describes.
void read_term(const rk::lexical::SegmentFile& f, const std::string& term) {
    const auto found = f.find(term);
    if (!found) return;
    const auto list = rk::lexical::decode_head(found->head);
    if (!list.inline_page.empty()) {
        std::vector<rk::lexical::BlockRef> blocks;
        rk::lexical::decode_page(list.inline_page, list.pages.front(), blocks);
        std::vector<rk::lexical::Posting> out;
        for (const auto& b : blocks) rk::lexical::decode_block(list.inline_page, b, out);
        return;
    }
    std::uint64_t at = 0;
    for (std::size_t p = 0; p < list.pages.size(); ++p) {
        const auto bytes = list.pages[p].bytes;
        if (bytes > found->pages.size() - at) return;  // a cursor drops the file here
        const std::string_view page = found->pages.substr(at, bytes);
        at += bytes;
        if (!f.page_sound(*found, p, page)) return;  // and here
        std::vector<rk::lexical::BlockRef> blocks;
        rk::lexical::decode_page(page, list.pages[p], blocks);
        std::vector<rk::lexical::Posting> out;
        for (const auto& b : blocks) rk::lexical::decode_block(page, b, out);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static rk::fuzz::ScratchFile scratch("seg-1.rkp");
    if (size == 0) return 0;
    const unsigned mode = data[0];
    std::string file(reinterpret_cast<const char*>(data + 1), size - 1);
    if (file.size() < sizeof(format::Trailer)) return 0;
    if ((mode & 2U) != 0) mend_heads(file);
    if ((mode & 1U) != 0) mend_trailer(file);
    const auto terms = terms_of(file);
    const format::Trailer t = trailer_of(file);
    const auto& path = scratch.write(file.data(), file.size());
    try {
        const auto f = rk::lexical::SegmentFile::open(path, t.tag, t.seg, t.entries);
        if (!f) return 0;
        for (const auto& term : terms) {
            try {
                read_term(*f, term);
            } catch (const rk::IndexError&) {
                // the query says so and reads rk.db's rows
            }
        }
        (void)f->find("absent");
    } catch (const rk::IndexError&) {
    }
    return 0;
}
