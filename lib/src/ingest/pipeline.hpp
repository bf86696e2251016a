// The ingest path as a whole (pipeline.cpp), for rk::ingest() and rk::import_jsonl().
#pragma once

#include "ingest/work.hpp"
#include "rk/index.hpp"
#include "rk/ingest.hpp"

namespace rk::pipeline {

// Ingests what `options` names, or, when `import` is given, the records of an export being
// imported (rk import), into an index open for writing. An import's bad line ends the run
// early, with everything before it committed and the reason in `import->stop`.
IngestReport run(Index& index, const IngestOptions& options, const IngestCallbacks& cb,
                 ImportInput* import);

}  // namespace rk::pipeline
