// The workers' part of rk::ingest() (see preparer.hpp): read, decode, parse, hash, cut.

#include "ingest/preparer.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <unordered_set>

#include "ingest/chunker.hpp"
#include "rk/error.hpp"
#include "rk/json.hpp"
#include "text/encoding.hpp"
#include "text/utf8.hpp"
#include "util/gzip.hpp"
#include "vector/store.hpp"

namespace fs = std::filesystem;

namespace rk::pipeline {

namespace {

using inputs::Format;

std::string meta_json(const std::vector<std::pair<std::string, std::string>>& a,
                      const std::vector<std::pair<std::string, std::string>>& b) {
    JsonWriter w;
    w.begin_object();
    std::unordered_set<std::string> seen;
    // The user's --meta wins over what the document says of itself.
    for (const auto* list : {&b, &a}) {
        for (const auto& [k, v] : *list) {
            if (seen.insert(k).second) w.key(k).value(v);
        }
    }
    w.end_object();
    return w.take();
}

// The first line of some text, trimmed and cut at a character boundary: a title for stdin.
std::string first_line(std::string_view text, std::size_t max_bytes) {
    const auto b = text.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    text = text.substr(b);
    text = text.substr(0, text.find('\n'));
    while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.remove_suffix(1);
    if (text.size() > max_bytes) {
        std::size_t cut = max_bytes;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
        text = text.substr(0, cut);
    }
    return std::string(text);
}

std::optional<std::string> read_file(const std::string& path, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = std::error_code(errno, std::generic_category()).message();
        return std::nullopt;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) {
        error = "read error";
        return std::nullopt;
    }
    return std::move(ss).str();
}

}  // namespace

void Cutter::cut(Prepared& p, const std::vector<inputs::Segment>* segments) {
    inputs::Parsed text;
    if (segments == nullptr) {
        text = inputs::read_text(p.rec.body);
        segments = &text.segments;
    }
    p.rec.chunks = inputs::make_chunks(p.rec.body, *segments, s_.chunk_size, s_.chunk_overlap);
    if (!o_.dry_run) {
        for (auto& c : p.rec.chunks) {
            c.terms = counter_.count(p.rec.title, c.heading, c.text);
            if (embedding_ != nullptr && embedding_->per_chunk()) {
                embed_one(c, vector::embedding_text(p.rec.title, c.heading, c.text));
            }
        }
    }
    p.cut = true;
}

void Cutter::embed_one(store::ChunkRecord& c, std::string_view text) const {
    [[gnu::tls_model("initial-exec")]] thread_local std::vector<vector::ChunkVector> one;
    embedding_->embed({&text, 1}, one);
    c.vector = std::move(one.front());
}

void Cutter::embed_rest(std::span<Prepared* const> docs) const {
    if (!embeds() || embedding_->per_chunk()) return;
    std::vector<store::ChunkRecord*> chunks;
    std::vector<std::string> texts;
    for (auto* p : docs) {
        for (auto& c : p->rec.chunks) {
            if (!c.vector.encoded.empty()) continue;
            chunks.push_back(&c);
            texts.push_back(vector::embedding_text(p->rec.title, c.heading, c.text));
        }
    }
    if (chunks.empty()) return;
    const std::vector<std::string_view> views(texts.begin(), texts.end());
    std::vector<vector::ChunkVector> vectors;
    embedding_->embed(views, vectors);
    for (std::size_t i = 0; i < chunks.size(); ++i) chunks[i]->vector = std::move(vectors[i]);
}

std::int64_t Cutter::complete(Prepared& p) {
    std::int64_t kept = 0;
    for (auto& c : p.rec.chunks) {
        if (o_.dry_run) break;
        c.terms = counter_.count(p.rec.title, c.heading, c.text);
        if (embedding_ == nullptr) {
            c.vector = {};
            continue;
        }
        const std::string text = vector::embedding_text(p.rec.title, c.heading, c.text);
        if (!c.vector.encoded.empty()) {
            c.vector = embedding_->kept(std::move(c.vector.encoded), text);
            ++kept;
        } else if (embedding_->per_chunk()) {
            embed_one(c, text);
        }
    }
    p.cut = true;
    return kept;
}

void Preparer::run(WorkItem& item, WorkResult& r) {
    r.bytes = item.bytes;
    r.source = item.source;
    switch (item.kind) {
        case WorkItem::Kind::file:
            file(item, r);
            break;
        case WorkItem::Kind::lines:
            lines(item, r);
            break;
        case WorkItem::Kind::stdin_text:
            text_document(item, std::move(item.data), r);
            break;
        case WorkItem::Kind::exported:
            exported(item, r);
            break;
    }
}

void Preparer::note(WorkResult& r, IngestNote::Level level, std::string where, std::string what) {
    r.notes.push_back({level, std::move(where), std::move(what)});
}

// Repairs invalid UTF-8 in place and says where the first bad byte was.
void Preparer::repair(std::string& s, const std::string& where, WorkResult& r) {
    if (const auto bad = text::utf8_first_invalid(s)) {
        const std::size_t n = text::utf8_repair(s);
        note(r, IngestNote::Level::warning, where,
             fmt::format("invalid UTF-8 at byte {}; {} sequence{} replaced with U+FFFD", *bad, n,
                         n == 1 ? "" : "s"));
    }
}

void Preparer::file(WorkItem& item, WorkResult& r) {
    std::string error;
    auto data = read_file(item.source, error);
    if (!data) {
        ++r.failed;
        note(r, IngestNote::Level::error, item.display, fmt::format("cannot read: {}", error));
        return;
    }
    const std::string filename = fs::path(item.source).filename().string();
    if (inputs::gzip_name(filename)) {
        try {
            *data = util::gunzip(*data, kMaxDecompressed);
        } catch (const InputError& e) {
            ++r.failed;
            note(r, IngestNote::Level::error, item.display, e.what());
            return;
        }
    }
    // A binary format's reader takes the bytes as they are.
    const bool binary_format =
        item.format == Format::document &&
        inputs::reader_for(inputs::without_gz(filename), *data).reads_bytes();
    if (!binary_format && !to_utf8(*data, item.display, r)) return;
    if (item.format == Format::json) {
        json_file(item, *data, r);
        return;
    }
    text_document(item, std::move(*data), r);
}

// Makes a file's bytes UTF-8: decoded from the encoding its byte order mark, --encoding
// or detection names, or left for repair() when they are UTF-8 with a few bad bytes.
// False when the file is skipped (binary) or failed (not in that encoding), noted.
bool Preparer::to_utf8(std::string& data, const std::string& where, WorkResult& r) const {
    std::optional<std::string> from;
    bool detected = false;
    std::string_view named_by;  // what named the encoding, for an error
    if (auto bom = text::byte_order_mark(data)) {
        data.erase(0, bom->bytes);
        if (bom->encoding != "UTF-8") from = bom->encoding;
        named_by = "its byte order mark";
    } else if (o_.encoding) {
        from = *o_.encoding;
        named_by = "--encoding";
    } else if (text::looks_binary(data)) {
        ++r.skipped;
        note(r, IngestNote::Level::info, where, "binary file skipped");
        return false;
    } else if (text::utf8_first_invalid(data) && mostly_not_utf8(data)) {
        // Bytes that are mostly not UTF-8 are most likely text in a legacy encoding;
        // UTF-8 with a few bad bytes is repaired instead.
        from = text::detect_encoding(data);
        detected = from.has_value();
    }
    if (!from) return true;
    try {
        data = text::decode(data, *from);
    } catch (const InputError& e) {
        if (detected) return true;  // a wrong guess: read as UTF-8, repaired
        ++r.failed;
        note(r, IngestNote::Level::error, where,
             fmt::format("{} (named by {}); not read", e.what(), named_by));
        return false;
    }
    if (detected) {
        note(r, IngestNote::Level::info, where,
             fmt::format("not UTF-8: decoded as {} (detected; --encoding sets it)", *from));
    }
    return true;
}

// Whether `s`, which is not valid UTF-8, is mostly not UTF-8: it holds no well-formed
// multi-byte sequence, or more ill-formed ones than well-formed (at least 8: text in
// Shift_JIS holds some well-formed ones by chance, and UTF-8 with a few bad bytes is not
// worth a guess).
bool Preparer::mostly_not_utf8(std::string_view s) {
    std::size_t good = 0, bad = 0;
    for (std::size_t i = 0; i < s.size();) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        const std::size_t n = text::utf8_sequence_length(s, i);
        (n > 1 ? good : bad) += 1;
        i += n > 1 ? n : 1;
    }
    return good == 0 || (bad >= 8 && bad > good);
}

void Preparer::text_document(WorkItem& item, std::string body, WorkResult& r) {
    const bool from_stdin = item.kind == WorkItem::Kind::stdin_text;
    const std::string filename = from_stdin ? "" : fs::path(item.source).filename().string();
    const auto& reader = inputs::reader_for(inputs::without_gz(filename), body);
    if (!reader.reads_bytes()) {
        if (body.find_first_not_of(" \t\r\n\f\v") == std::string::npos) {
            ++r.skipped;
            note(r, IngestNote::Level::info, item.display, "empty, skipped");
            return;
        }
        repair(body, item.display, r);
    }
    Prepared p;
    p.where = item.display;
    inputs::Parsed parsed;
    try {
        parsed = reader.read(body);
    } catch (const InputError& e) {
        ++r.failed;
        note(r, IngestNote::Level::error, item.display, e.what());
        return;
    }
    if (reader.reads_bytes()) {
        repair(body, item.display, r);
    } else if (text::utf8_first_invalid(body)) {
        // A reader of valid text made invalid text: its segments' offsets must hold, so each
        // bad byte becomes one '?' rather than a U+FFFD of three.
        note(r, IngestNote::Level::warning, item.display,
             fmt::format("the {} reader made invalid UTF-8; bad bytes replaced with '?'",
                         reader.name()));
        text::utf8_mask(body);
    }
    for (auto& seg : parsed.segments) {
        if (text::utf8_first_invalid(seg.heading)) text::utf8_mask(seg.heading);
    }
    if (text::utf8_first_invalid(parsed.title)) text::utf8_mask(parsed.title);
    for (auto& [key, value] : parsed.meta) {
        if (text::utf8_first_invalid(value)) text::utf8_mask(value);
    }
    if (body.find_first_not_of(" \t\r\n\f\v") == std::string::npos) {
        ++r.skipped;
        note(r, IngestNote::Level::info, item.display,
             fmt::format("no text (read as {}), skipped", reader.name()));
        return;
    }
    if (parsed.title.empty()) {
        parsed.title =
            from_stdin ? first_line(body, 120) : fs::path(item.source).filename().string();
    }
    p.rec.title = parsed.title;
    p.rec.source = item.source;
    p.rec.collection = o_.collection;
    p.rec.meta = meta_json(o_.meta, parsed.meta);
    p.rec.body = std::move(body);
    p.rec.hash = store::content_hash(p.rec);
    p.rec.ext_id = from_stdin ? "stdin:" + p.rec.hash.substr(0, 16) : item.source;
    finish(p, &parsed, r);
}

void Preparer::json_file(WorkItem& item, std::string& data, WorkResult& r) {
    repair(data, item.display, r);
    try {
        parser_.parse_document(
            data, fields_, o_.meta,
            [&](std::size_t n, inputs::Record&& rec) {
                record(std::move(rec), item, fmt::format("{}[{}]", item.display, n), r);
            },
            [&](std::size_t n, const char* what) {
                ++r.failed;
                note(r, IngestNote::Level::error, fmt::format("{}[{}]", item.display, n), what);
            });
    } catch (const InputError& e) {
        ++r.failed;
        note(r, IngestNote::Level::error, item.display, e.what());
    }
}

void Preparer::lines(WorkItem& item, WorkResult& r) {
    for (auto& [line_no, line] : item.lines) {
        const std::string where = fmt::format("{}:{}", item.display, line_no);
        repair(line, where, r);
        try {
            record(parser_.parse_object(line, fields_, o_.meta), item, where, r);
        } catch (const InputError& e) {
            ++r.failed;
            note(r, IngestNote::Level::error, where, e.what());
        }
    }
}

void Preparer::record(inputs::Record&& rec, const WorkItem& item, std::string where,
                      WorkResult& r) {
    Prepared p;
    p.where = std::move(where);
    p.rec.source = item.source;
    p.rec.collection = o_.collection;
    p.rec.title = std::move(rec.title);
    p.rec.meta = std::move(rec.meta);
    p.rec.body = std::move(rec.text);
    p.rec.hash = store::content_hash(p.rec);
    // A record without an id is named by its content, which is stable across runs.
    p.rec.ext_id = rec.id.empty() ? p.rec.hash.substr(0, 16) : std::move(rec.id);
    if (rec.blank_id) {
        // Most likely a mistake in the data, which the fallback would otherwise hide.
        note(r, IngestNote::Level::warning, p.where,
             fmt::format("'{}' is null or blank; the id is the content hash {} instead",
                         o_.id_field, p.rec.ext_id));
    }
    finish(p, nullptr, r);
}

void Preparer::finish(Prepared& p, inputs::Parsed* parsed, WorkResult& r) {
    const auto k = known_.find(p.rec.ext_id);
    if (k == known_.end() || k->second.hash != p.rec.hash) {
        cutter_.cut(p, parsed != nullptr ? &parsed->segments : nullptr);
    } else if (parsed != nullptr) {
        p.segments = std::move(parsed->segments);
    }
    r.docs.push_back(std::move(p));
}

// An export's lines, each a document or the last line. The first bad one stops the import
// (the lines after it in the item are not read), as does any line after the last.
void Preparer::exported(WorkItem& item, WorkResult& r) {
    for (std::size_t i = 0; i < item.lines.size(); ++i) {
        auto& [line_no, line] = item.lines[i];
        std::string where = fmt::format("{}:{}", item.display, line_no);
        if (i == 0) r.first = where;
        if (r.end) {
            r.stop = IngestNote{
                IngestNote::Level::error, std::move(where),
                fmt::format("a line after the export's last line (at {})", r.end->where)};
            return;
        }
        try {
            transfer::Line parsed = export_parser_.parse(line);
            if (parsed.kind == transfer::Line::Kind::end) {
                r.end = WorkResult::End{parsed.documents, std::move(where)};
                continue;
            }
            ++r.records;
            imported(std::move(parsed), where, r);
        } catch (const InputError& e) {
            const bool cut_short = item.cut_short && i + 1 == item.lines.size();
            r.stop = IngestNote{
                IngestNote::Level::error, std::move(where),
                cut_short
                    ? fmt::format("the input ends inside this line (which starts at byte "
                                  "{}): the export is truncated ({})",
                                  item.starts[i], e.what())
                    : fmt::format("{} (the line starts at byte {})", e.what(), item.starts[i])};
            return;
        }
    }
}

// One document of an export. Its chunks are kept when the import may (the index cuts as the
// export's did) and the document is as exported (its hash says so: the byte ranges hold for
// this text only), with their vectors when the embedder is the same; else it is cut again as
// rk ingest cut it, when its text tells how (see stored_segments()).
void Preparer::imported(transfer::Line&& line, std::string where, WorkResult& r) {
    Prepared p;
    p.where = std::move(where);
    p.rec = std::move(line.doc);
    p.rec.hash = store::content_hash(p.rec);
    const auto k = known_.find(p.rec.ext_id);
    if (k != known_.end() && k->second.hash == p.rec.hash) {
        // Unchanged: the writer leaves it alone, as ingest does.
        p.rec.chunks.clear();
        r.docs.push_back(std::move(p));
        return;
    }
    if (line.has_chunks && line.hash == p.rec.hash && import_->keep_chunks) {
        transfer::take_chunks(p.rec);
        for (auto& c : p.rec.chunks) {
            if (!import_->keep_vectors) {
                c.vector.encoded.clear();
            } else if (!c.vector.encoded.empty() &&
                       c.vector.encoded.size() != import_->vector_bytes) {
                throw InputError(
                    fmt::format("a chunk's vector has {} bytes, but the index's "
                                "embedder stores {}",
                                c.vector.encoded.size(), import_->vector_bytes));
            }
        }
        const std::int64_t kept = cutter_.complete(p);
        r.chunks_kept += static_cast<std::int64_t>(p.rec.chunks.size());
        r.vectors_kept += kept;
        if (cutter_.embeds()) {
            r.vectors_embedded += static_cast<std::int64_t>(p.rec.chunks.size()) - kept;
        }
    } else {
        p.rec.chunks.clear();
        const auto segments = inputs::stored_segments(p.rec.ext_id, p.rec.source, p.rec.body);
        cutter_.cut(p, &segments);
        if (cutter_.embeds()) r.vectors_embedded += static_cast<std::int64_t>(p.rec.chunks.size());
    }
    r.docs.push_back(std::move(p));
}

}  // namespace rk::pipeline
