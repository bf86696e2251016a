// The core's side of the formats module: loading it, and what calls into it.
#include "ingest/formats.hpp"
#include "util/module.hpp"

namespace rk::inputs {

const FormatsModule& formats_module() {
    return util::module_table<FormatsModule>("formats", "rk_formats_module");
}

std::unique_ptr<IgnoreRules> make_ignore_rules(const std::filesystem::path& root) {
    return formats_module().ignore_rules(root);
}

}  // namespace rk::inputs
