#include "util/module.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <string_view>

#include "rk/error.hpp"

namespace rk::util {

namespace {

// The directory librk was loaded from: modules are installed and built next to it.
std::filesystem::path library_dir() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&module_entry), &info) == 0 ||  // NOLINT
        info.dli_fname == nullptr) {
        return {};
    }
    return std::filesystem::path(info.dli_fname).parent_path();
}

struct Loaded {
    void* handle = nullptr;
    std::string file;
};

}  // namespace

void* module_entry(const std::string& name, const char* symbol) {
    static std::mutex mutex;
    static std::map<std::string, Loaded> loaded;  // never unloaded: their tables stay valid
    const std::lock_guard lock(mutex);
    Loaded& m = loaded[name];
    if (m.handle == nullptr) {
        m.file = (library_dir() / fmt::format("librk_{}.so", name)).lexically_normal().string();
        m.handle = dlopen(m.file.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (m.handle == nullptr) {
            // (glibc keeps dlerror() per thread; the lock serialises rk's calls anyway.)
            const char* error = dlerror();  // NOLINT(concurrency-mt-unsafe)
            std::string_view why = error != nullptr ? error : "unknown reason";
            // dlerror() starts with the file's name, which the message gives first.
            if (why.starts_with(m.file + ": ")) why.remove_prefix(m.file.size() + 2);
            throw Error(fmt::format("cannot load rk's {} module ({}); reinstall rk", name, why),
                        m.file);
        }
    }
    dlerror();  // NOLINT(concurrency-mt-unsafe): clears it, see above
    void* entry = dlsym(m.handle, symbol);
    if (entry == nullptr) {
        throw Error(fmt::format("rk's {} module has no entry '{}' (a module of another rk "
                                "version?); reinstall rk",
                                name, symbol),
                    m.file);
    }
    return entry;
}

}  // namespace rk::util
