// Modules: the parts of rk whose libraries cost more to load than most commands take to run.
// poppler, libzip, libxml2 and libgit2 (the PDF and office readers, ignore rules) and
// cpp-httplib with OpenSSL (`rk serve`) pull in some fifty shared libraries, about 10 ms of
// loading and relocation at every start (bench/README.md, "Start-up"), which `rk query` and
// `rk get` never need. So they are built as modules (librk_formats.so, librk_http.so), next to
// librk.so, and loaded the first time something asks for them.
#pragma once

#include <string>

namespace rk::util {

// The address of the entry `symbol` (an extern "C" function taking no arguments) of the
// module `name` ("formats" for librk_formats.so), loading the module from librk's own
// directory on first use; each module is loaded once per process. Thread-safe. Throws
// rk::Error naming the module's file when it is missing or lacks the entry.
void* module_entry(const std::string& name, const char* symbol);

// Calls the module's entry and returns what it returns: a pointer to the module's table of
// functions, which lives as long as the process.
template <typename Table>
const Table& module_table(const std::string& name, const char* symbol) {
    using Entry = const Table* (*)();
    // (A function pointer from dlsym: POSIX guarantees the conversion.)
    const auto entry = reinterpret_cast<Entry>(module_entry(name, symbol));  // NOLINT
    return *entry();
}

}  // namespace rk::util
