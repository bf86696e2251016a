#include "ingest/code.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "ingest/readers.hpp"
#include "text/utf8.hpp"

using namespace rk::inputs;

namespace {

// Each section of a source file, as "heading | its first line".
struct Sections : std::vector<std::string> {
    Sections() = default;
    Sections(std::initializer_list<std::pair<std::string, std::string>> l) {
        for (const auto& [heading, line] : l) push_back(heading + " | " + line);
    }
};

Sections sections(std::string_view file, std::string_view text) {
    const Language* lang = language_for(file, text);
    REQUIRE(lang != nullptr);
    const Parsed p = read_code(text, *lang);
    Sections out;
    for (const auto& s : p.segments) {
        if (!s.section_start) continue;
        const std::string_view seg = text.substr(s.start, s.end - s.start);
        out.push_back(s.heading + " | " + std::string(seg.substr(0, seg.find('\n'))));
    }
    return out;
}

}  // namespace

TEST_CASE("source files are claimed by name, or by #! when they have no extension", "[code]") {
    CHECK(reader_for("src/main.c", "int main() {}").name() == "code");
    CHECK(reader_for("lib/Parser.java", "").name() == "code");
    CHECK(reader_for("tool.PY", "").name() == "code");
    CHECK(reader_for("CMakeLists.txt", "").name() == "code");
    CHECK(reader_for("bin/deploy", "#!/usr/bin/env bash\nset -e\n").name() == "code");
    CHECK(reader_for("bin/run", "#!/usr/bin/python3\n").name() == "code");
    CHECK(language_for("bin/run", "#!/usr/bin/python3\n")->name == "python");
    CHECK(language_for("x.tsx", "")->name == "typescript");
    CHECK(language_for("notes.txt", "") == nullptr);
    CHECK(language_for("README", "no shebang") == nullptr);
    CHECK(reader_for("notes.txt", "").name() == "text");
}

TEST_CASE("code: C cut at its functions, comments above them kept with them", "[code]") {
    const std::string c =
        "/* Config loading. */\n"
        "#include <stdio.h>\n"
        "#define MAX 10\n"
        "\n"
        "static const char *names[] = {\"a{\", \"b}\"};\n"
        "\n"
        "// Reads the file at path.\n"
        "static int\n"
        "parse_config(const char *path)\n"
        "{\n"
        "    if (path) {\n"
        "        /* a } in a comment */\n"
        "        return '}';\n"
        "    }\n"
        "err:\n"
        "    return 0;\n"
        "}\n"
        "\n"
        "struct point {\n    int x, y;\n};\n"
        "struct point *make_point(void) {\n    return 0;\n}\n"
        "int add(int a, int b);\n"
        "int sub(int a, int b);\n"
        "enum { RED };\n"
        "int main(void) {\n    return parse_config(\"x\");\n}\n";
    // Declarations of one line are packed together, without a heading.
    CHECK(sections("config.c", c) == Sections{{"", "/* Config loading. */"},
                                              {"parse_config", "// Reads the file at path."},
                                              {"point", "struct point {"},
                                              {"make_point", "struct point *make_point(void) {"},
                                              {"", "int add(int a, int b);"},
                                              {"main", "int main(void) {"}});
}

TEST_CASE("code: C++ namespaces are transparent; classes, templates, methods", "[code]") {
    const std::string cpp =
        "namespace app::core {\n"
        "\n"
        "template <class T>\n"
        "T clamp(T v) {\n    return v;\n}\n"
        "\n"
        "class Server : public Base {\n"
        "  public:\n"
        "    void run();\n"
        "};\n"
        "\n"
        "void Server::run() {\n"
        "    auto s = R\"(not a { brace)\";\n"
        "}\n"
        "\n"
        "}  // namespace app::core\n";
    CHECK(sections("s.cpp", cpp) == Sections{{"", "namespace app::core {"},
                                             {"clamp", "template <class T>"},
                                             {"Server", "class Server : public Base {"},
                                             {"Server::run", "void Server::run() {"}});
}

TEST_CASE("code: Go, Rust, JavaScript and TypeScript definitions are named", "[code]") {
    CHECK(sections(
              "s.go",
              "package main\n\nimport \"fmt\"\n\ntype Server struct {\n\tname string\n}\n\n"
              "func (s *Server) Start() error {\n\treturn nil\n}\n\nfunc main() {\n\trun()\n}\n") ==
          Sections{{"", "package main"},
                   {"Server", "type Server struct {"},
                   {"Start", "func (s *Server) Start() error {"},
                   {"main", "func main() {"}});
    CHECK(sections("p.rs",
                   "use std::fmt;\n\n#[derive(Debug)]\npub struct Point<'a> {\n    x: &'a str,\n}\n"
                   "\nimpl<'a> fmt::Display for Point<'a> {\n    fn fmt(&self) {}\n}\n\n"
                   "pub fn distance(a: &Point) -> f64 {\n    0.0\n}\n") ==
          Sections{{"", "use std::fmt;"},
                   {"Point", "#[derive(Debug)]"},
                   {"impl<'a> fmt::Display for Point<'a>", "impl<'a> fmt::Display for Point<'a> {"},
                   {"distance", "pub fn distance(a: &Point) -> f64 {"}});
    CHECK(sections("a.ts",
                   "import x from 'y';\n\nexport const loadConfig = async (path: string) => {\n"
                   "  return `template ${path} {`;\n};\n\n"
                   "export default class Store {\n  x = 1;\n}\n\n"
                   "function helper() {\n  return 1;\n}\n") ==
          Sections{{"", "import x from 'y';"},
                   {"loadConfig", "export const loadConfig = async (path: string) => {"},
                   {"Store", "export default class Store {"},
                   {"helper", "function helper() {"}});
}

TEST_CASE("code: Python by indentation; decorators, docstrings, top-level code", "[code]") {
    const std::string py =
        "\"\"\"Module doc.\n"
        "\n"
        "def not_a_function(): in a docstring\n"
        "\"\"\"\n"
        "import os\n"
        "\n"
        "# Parses the config.\n"
        "@cache\n"
        "def parse_config(path,\n"
        "                 strict=False):\n"
        "    x = {\n"
        "'key': 1}\n"
        "    return x\n"
        "\n"
        "class Loader(Base):\n"
        "    def load(self):\n"
        "        pass\n"
        "\n"
        "if __name__ == '__main__':\n"
        "    parse_config('x')\n";
    CHECK(sections("c.py", py) == Sections{{"", "\"\"\"Module doc."},
                                           {"parse_config", "# Parses the config."},
                                           {"Loader", "class Loader(Base):"},
                                           {"", "if __name__ == '__main__':"}});
    CHECK(sections("deploy.sh",
                   "#!/bin/sh\nset -e\n\nbuild() {\n  make\n}\n\nfunction ship {\n  scp x y\n}\n"
                   "\nbuild\n") == Sections{{"", "#!/bin/sh"},
                                            {"build", "build() {"},
                                            {"ship", "function ship {"},
                                            {"", "build"}});
}

TEST_CASE("code: definition names from headers", "[code]") {
    CHECK(definition_name("def f(x):", false) == "f");
    CHECK(definition_name("async def fetch(url):", false) == "fetch");
    CHECK(definition_name("def self.build(x)", false) == "self.build");
    CHECK(definition_name("local function helper(a)", false) == "helper");
    CHECK(definition_name("f <- function(x) {", false) == "f");
    CHECK(definition_name("sub handler {", false) == "handler");
    CHECK(definition_name("defmodule App.Server do", false) == "App.Server");
    CHECK(definition_name("print(\"hello\")", false).empty());
    CHECK(definition_name("x = compute(3)", true).empty());
    CHECK(definition_name("if (x) {", true).empty());
    CHECK(definition_name("std::vector<int> make_list(int n)", true) == "make_list");
    CHECK(definition_name("Foo::~Foo()", true) == "Foo::~Foo");
    CHECK(definition_name("namespace a::b", true).empty());
    CHECK(definition_name("TEST_CASE(\"globs\", \"[glob]\") {", true) ==
          "TEST_CASE(\"globs\", \"[glob]\")");
    CHECK(definition_name("TEST(Parser, HandlesEmpty) {", true) == "TEST(Parser, HandlesEmpty)");
    CHECK(definition_name("", true).empty());
}

TEST_CASE("code: unbalanced and hostile input still reads", "[code]") {
    const Language* c = language_for("x.c", "");
    for (const std::string bad :
         {"}}}}\n}\nint f() {", "/* never closed\nint f() {}", "\"unterminated\nint g() {}\n", "'",
          "`", "\n\n\n", "{{{{", "int f(\n", "#define X \\\n"}) {
        const Parsed p = read_code(bad, *c);
        for (const auto& s : p.segments) {
            CHECK(s.start <= s.end);
            CHECK(s.end <= bad.size());
        }
    }
    // A comment left open over many lines: each line searches only itself (once quadratic).
    std::string open_comment = "/*\n";
    for (int i = 0; i < 200000; ++i) open_comment += "text of a comment\n";
    CHECK(read_code(open_comment, *c).segments.size() >= 1);
    // Headings are cut at a character's end.
    std::string long_name = "int ";
    for (int i = 0; i < 100; ++i) long_name += "\xC3\xA9";
    long_name += "(void) {\n  return 0;\n}\n";
    CHECK(definition_name(long_name, true).size() <= 160);
    CHECK_FALSE(rk::text::utf8_first_invalid(
        definition_name("TEST_CASE(\"" + std::string(200, 'x') + "\xC3\xA9\") {", true)));
    const Language* py = language_for("x.py", "");
    for (const std::string bad : {"'''never closed\ndef f(): pass", "(((\ndef f(): pass", ")))"}) {
        const Parsed p = read_code(bad, *py);
        for (const auto& s : p.segments) CHECK(s.end <= bad.size());
    }
}
