// Splitting a document into chunks of about `size` tokens (whitespace-separated words).
#pragma once

#include <string_view>
#include <vector>

#include "ingest/readers.hpp"
#include "store/documents.hpp"

namespace rk::inputs {

// Segments are filled greedily into chunks of at most `size` tokens. A chunk never starts
// inside a word, never spans a heading, and ends at a paragraph boundary when the next
// paragraph would not fit. A paragraph longer than `size` is cut at the last sentence end in
// the second half of the window (else at `size`), and the next piece repeats the last
// `overlap` tokens. A document with no words yields one empty chunk, so that its title is
// still indexed.
std::vector<store::ChunkRecord> make_chunks(std::string_view text,
                                            const std::vector<Segment>& segments, int size,
                                            int overlap);

}  // namespace rk::inputs
