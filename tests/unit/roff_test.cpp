#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "ingest/readers.hpp"
#include "ingest/roff_text.hpp"
#include "text/utf8.hpp"

using namespace rk::inputs;

namespace {

struct Read {
    Parsed parsed;
    std::string text;
};

Read read(std::string page) {
    Read r;
    r.parsed = read_roff(page);
    r.text = std::move(page);
    return r;
}

std::vector<std::string> headings(const Read& r) {
    std::vector<std::string> out;
    for (const auto& s : r.parsed.segments) {
        if (s.section_start) out.push_back(s.heading);
    }
    return out;
}

}  // namespace

TEST_CASE("man pages are claimed by name and requests, not by name alone", "[roff]") {
    CHECK(reader_for("ls.1", ".TH LS 1\n").name() == "man");
    CHECK(reader_for("printf.3p", ".\\\" comment\n.TH PRINTF 3P\n").name() == "man");
    CHECK(reader_for("openssl.1ssl", ".de Sp\n..\n.TH X 1\n").name() == "man");
    CHECK(reader_for("ssh.1", ".\\\" BSD page\n.Dd $Mdocdate$\n.Dt SSH 1\n").name() == "man");
    CHECK(reader_for("page.man", ".PP\nhello\n").name() == "man");
    // No telling name: a .TH or .Dd after the page's preamble decides.
    CHECK(reader_for("ls", ".ds Aq '\n.TH LS 1\n").name() == "man");
    CHECK(reader_for("", ".TH LS 1\n").name() == "man");
    // A rotated log and a text that only starts like roff are not pages.
    CHECK(reader_for("app.log.1", "2026-01-01 started\n.TH\n").name() == "text");
    CHECK(reader_for("notes", ".hidden file list\n.TH x\n").name() == "text");
    CHECK(reader_for("README.md", ".TH LS 1\n").name() == "markdown");
    CHECK(reader_for("main.c", ".TH LS 1\n").name() == "code");
    CHECK(reader_for("notes.log", ".TH LS 1\n").name() == "text");
}

TEST_CASE("man(7): NAME is the title, sections are headings, escapes are text", "[roff]") {
    const auto r = read(
        ".\\\" a comment\n"
        ".TH RK\\-DEMO 1 2026-01-01 \"rk 1.0\" \"User Commands\"\n"
        ".SH NAME\n"
        "rk\\-demo \\- show a man page\n"
        ".SH DESCRIPTION\n"
        ".B rk demo\n"
        "prints \\fIalbatross\\fP and \\fBpetrel\\fR \\(em caf\\['e] na\\[u00EF]ve\\(rq.\n"
        "It joins\\c\n"
        "words.\n"
        ".PP\n"
        "Second\n"
        "paragraph.\n"
        ".SS Options\n"
        ".TP\n"
        ".BR \\-v , \" \\-\\-verbose\"\n"
        "Say more.\n"
        ".IP \\(bu 2\n"
        "A bullet.\n");
    CHECK(r.parsed.title == "rk-demo - show a man page");
    REQUIRE(r.parsed.meta.size() == 1);
    CHECK(r.parsed.meta[0] == std::pair<std::string, std::string>{"section", "1"});
    CHECK(headings(r) == std::vector<std::string>{"NAME", "DESCRIPTION", "DESCRIPTION > Options"});
    CHECK(r.text ==
          "NAME\n\nrk-demo - show a man page\n\nDESCRIPTION\n\n"
          "rk demo prints albatross and petrel \xE2\x80\x94 caf\xC3\xA9 na\xC3\xAFve\xE2\x80\x9D. "
          "It joinswords.\n\nSecond paragraph.\n\nOptions\n\n"
          "-v, --verbose\nSay more.\n\n\xE2\x80\xA2 A bullet.");
}

TEST_CASE("man(7): no-fill blocks keep their lines; conditions are judged as nroff would",
          "[roff]") {
    const auto r = read(
        ".ie n .ds Q \"\"\n"
        ".el .ds Q ``\n"
        ".if t .ds Q troff\n"
        ".ie \\n(.g \\{\\\n"
        ".  ds Aq \\(aq\n"
        ".\\}\n"
        ".el \\{\\\n"
        ".  ds Aq wrong\n"
        "never shown\n"
        ".\\}\n"
        ".nr X 3\n"
        ".if (\\nX>2)&(1=1) .ds R3 three\n"
        ".if !\\nX \\{ hidden \\}\n"
        ".if 'a'a' .ds S same\n"
        ".de Xx\n"
        "macro body text\n"
        "..\n"
        ".ig\n"
        "ignored text\n"
        "..\n"
        ".TH T 7\n"
        ".SH NAME\n"
        "t \\- \\*QquotedQ\\*Q it\\*(Aqs \\*(R3 \\*S\n"
        ".SH EXAMPLE\n"
        ".EX\n"
        "$ rk   ingest  \\-r .\n"
        "$ rk query x\n"
        ".EE\n"
        "After.\n");
    CHECK(r.parsed.title == "t - \"quotedQ\" it's three same");
    CHECK(r.text.find("$ rk   ingest  -r .\n$ rk query x") != std::string::npos);
    for (const char* gone : {"never", "hidden", "macro body", "ignored", "wrong", "troff", "``"}) {
        CHECK(r.text.find(gone) == std::string::npos);
    }
    CHECK(r.text.ends_with("After."));
}

TEST_CASE("tbl(1) tables: rows of cells, text blocks", "[roff]") {
    const auto r = read(
        ".TH T 1\n.SH TABLE\n.TS\ntab (@);\nl lx.\n"
        "Name@Meaning\n_\nalpha@T{\nfirst letter\nT}\nbeta@second\n.TE\nafter\n");
    CHECK(r.text.find("Name  Meaning\nalpha") != std::string::npos);
    CHECK(r.text.find("first letter") != std::string::npos);
    CHECK(r.text.find("beta  second") != std::string::npos);
    CHECK(r.text.find("T{") == std::string::npos);
    CHECK(r.text.find("tab") == std::string::npos);
    CHECK(r.text.ends_with("after"));
}

TEST_CASE("mdoc(7): Nm and Nd make the title; flags, references, enclosures", "[roff]") {
    const auto r = read(
        ".Dd March 1, 2026\n.Dt DEMO 1\n.Os\n"
        ".Sh NAME\n.Nm demo\n.Nd show an mdoc page\n"
        ".Sh SYNOPSIS\n.Nm\n.Op Fl hv\n.Op Fl o Ar file\n.Ar path ...\n"
        ".Sh DESCRIPTION\nThe\n.Nm\nutility reads\n.Pa /etc/demo.conf .\n"
        ".Bl -tag -width Ds\n.It Fl v\nBe verbose, see\n.Xr ls 1 .\n.El\n"
        ".Bd -literal\nkeep   this\n  as is\n.Ed\n"
        ".Fn open \"const char *path\" \"int flags\"\n");
    CHECK(r.parsed.title == "demo - show an mdoc page");
    CHECK(headings(r) == std::vector<std::string>{"NAME", "SYNOPSIS", "DESCRIPTION"});
    CHECK(r.text.find("demo [-hv] [-o file] path ...") != std::string::npos);
    CHECK(r.text.find("The demo utility reads /etc/demo.conf.") != std::string::npos);
    CHECK(r.text.find("-v\nBe verbose, see ls(1).") != std::string::npos);
    CHECK(r.text.find("keep   this\n  as is") != std::string::npos);
    CHECK(r.text.find("open(const char *path, int flags)") != std::string::npos);
}

TEST_CASE("roff: hostile pages cost bounded time and memory", "[roff]") {
    // Strings that double at each level: without a budget, 2^40 bytes.
    std::string page = ".ds a xxxxxxxxxxxxxxxx\n";
    for (char c = 'b'; c <= 'z'; ++c) {
        const char prev = static_cast<char>(c - 1);
        page += std::string(".ds ") + c + " \\*" + prev + "\\*" + prev + "\n";
    }
    page += ".TH T 1\n.SH NAME\nt \\- \\*z\n";
    const auto r = read(page);
    CHECK(r.text.size() < page.size() * 16 + (1U << 17));
    // Conditions nested on one line, blocks never closed, definitions never ended.
    std::string nested;
    for (int i = 0; i < 100000; ++i) nested += ".if n ";
    nested += "deep\n";
    CHECK(read(nested).text.size() < 100);
    CHECK(read(".if t \\{\nunclosed\n").text.empty());
    CHECK(read(".de X\nno end\n").text.empty());
    CHECK(read(".TS\nl.\na\tb\n").text == "a  b");
    // Found by review: each of these once looped, overflowed the stack or took quadratic time.
    CHECK(read(".tr \\[ab\nword\n").text == "word");
    std::string table_block = ".TS\nl.\nT{\n";
    for (int i = 0; i < 30000; ++i) table_block += ".if n ";
    table_block += "deep\nT}\n.TE\n";
    CHECK(read(table_block).text.size() < 100);
    CHECK_NOTHROW(read(".if " + std::string(100000, '(') + "1 x\n"));
    CHECK_NOTHROW(read(".nr x " + std::string(100000, '-') + "1\n"));
    std::string widths = "text ";
    for (int i = 0; i < 200000; ++i) widths += "\\w'";
    CHECK(read(widths).text.starts_with("text"));
    const auto translated = read(".tr a\\(em\n" + std::string(1 << 20, 'a') + "\n");
    CHECK(translated.text.size() == 3 * (std::size_t{1} << 20));  // each a an em dash
    std::string many_pairs = ".tr ";
    for (int i = 0; i < 200000; ++i) many_pairs += "xy";
    CHECK(read(many_pairs + "\n" + std::string(100000, 'x') + "\n").text ==
          std::string(100000, 'y'));
    // Names of escapes take whole characters: no stray bytes of a split one.
    for (const char* s :
         {"\\f\xE2\x82\xAC x", "\\(\xE2\x82\xACx y", "\\*\xC3\xA9 z", "\\n\xE2\x82\xAC w"}) {
        const auto split = read(s);
        CHECK(rk::text::utf8_first_invalid(split.text) == std::nullopt);
    }
    // Escapes cut short at the end of the input.
    for (const char* tail : {"\\", "\\(", "\\[", "\\*(", "\\s", "\\s+", "\\h'", "\\f", "\\n(",
                             "\\C'", "\\[u12", "\\*[", "\\?"}) {
        CHECK_NOTHROW(read(std::string("text ") + tail));
    }
}

TEST_CASE("roff arguments: quotes, doubled quotes, escaped blanks", "[roff]") {
    using rk::inputs::roff::split_args;
    CHECK(split_args(R"(a "b c" d\ e "say ""hi""")") ==
          std::vector<std::string>{"a", "b c", R"(d\ e)", R"(say "hi")"});
    CHECK(split_args("  ").empty());
    CHECK(split_args("\"unclosed").size() == 1);
}
