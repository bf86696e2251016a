// rk mcp: the Model Context Protocol over stdio. JSON-RPC 2.0, one message a line; the
// tools are the calls of calls.hpp, each with its input and output schema.
#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <istream>
#include <ostream>

#include "rk/error.hpp"
#include "rk/index.hpp"
#include "rk/json.hpp"
#include "rk/serve.hpp"
#include "rk/version.hpp"
#include "serve/calls.hpp"

namespace rk {

namespace {

// JSON-RPC 2.0's error codes.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kInternalError = -32603;

// A message longer than this is answered with an error and not parsed.
constexpr std::size_t kMaxMessageBytes = std::size_t{16} << 20;

constexpr std::string_view kInstructions =
    "rk searches a local index of documents. Call `search` with words to find documents "
    "(ranked, with ids, paths, scores and snippets), then `get` with a result's id to read it "
    "whole, one chunk of it, or a range of its lines. `stats` tells what the index holds.";

struct Tool {
    std::string_view name, title, description;
    std::string_view (*input)();
    std::string_view (*output)();
};

constexpr Tool kTools[] = {
    {"search", "Search the index",
     "Find documents (or chunks) matching a query: words, \"quoted phrases\", -excluded "
     "words, prefix*. Returns ranked results with id, title, source path, score and snippet.",
     serve::search_input_schema, serve::search_output_schema},
    {"get", "Read a document",
     "Read a stored document by id or path (as search returns them), or one chunk of it "
     "(ID#N or 'chunk'), optionally only lines start_line..end_line.",
     serve::get_input_schema, serve::get_output_schema},
    {"stats", "Describe the index",
     "Counts of documents and chunks, sizes, settings and collections of the index.",
     serve::stats_input_schema, serve::stats_output_schema},
};

std::string tools_list() {
    JsonWriter w;
    w.begin_object().key("tools").begin_array();
    for (const auto& t : kTools) {
        w.begin_object()
            .key("name")
            .value(t.name)
            .key("title")
            .value(t.title)
            .key("description")
            .value(t.description)
            .key("inputSchema")
            .raw(t.input())
            .key("outputSchema")
            .raw(t.output())
            .key("annotations")
            .begin_object()
            .key("readOnlyHint")
            .value(true)
            .key("openWorldHint")
            .value(false)
            .end_object()
            .end_object();
    }
    w.end_array().end_object();
    return w.take();
}

// A JSON-RPC error that ends the handling of one request.
struct RpcError {
    int code;
    std::string message;
};

class Session {
  public:
    Session(const Index& index, std::ostream& out, std::ostream* log, SearchDefaults defaults)
        : index_(index),
          out_(out),
          log_(log),
          defaults_(std::move(defaults)),
          tools_(tools_list()) {}

    void handle(std::string_view line) {
        if (line.size() > kMaxMessageBytes) {
            reply_error("null", kInvalidRequest,
                        fmt::format("message longer than {} bytes", kMaxMessageBytes));
            return;
        }
        simdjson::dom::element msg;
        if (parser_.parse(line.data(), line.size()).get(msg) != simdjson::SUCCESS) {
            reply_error("null", kParseError, "parse error: not valid JSON");
            return;
        }
        if (msg.is_array()) {
            reply_error("null", kInvalidRequest,
                        "batches are not supported: send one message a line");
            return;
        }
        simdjson::dom::object obj;
        if (msg.get_object().get(obj) != simdjson::SUCCESS) {
            reply_error("null", kInvalidRequest, "a message must be a JSON object");
            return;
        }
        simdjson::dom::element id_el;
        const bool has_id = obj["id"].get(id_el) == simdjson::SUCCESS;
        std::string id = "null";
        if (has_id) {
            if (!id_el.is_string() && !id_el.is_int64() && !id_el.is_uint64()) {
                reply_error("null", kInvalidRequest, "'id' must be a string or an integer");
                return;
            }
            id = simdjson::minify(id_el);
        }
        std::string_view jsonrpc;
        if (obj["jsonrpc"].get_string().get(jsonrpc) != simdjson::SUCCESS || jsonrpc != "2.0") {
            if (has_id) reply_error(id, kInvalidRequest, "'jsonrpc' must be \"2.0\"");
            return;
        }
        std::string_view method;
        if (obj["method"].get_string().get(method) != simdjson::SUCCESS) {
            // A response to a request of ours (we send none), or nonsense.
            const bool response = obj["result"].error() == simdjson::SUCCESS ||
                                  obj["error"].error() == simdjson::SUCCESS;
            if (!response) reply_error(id, kInvalidRequest, "'method' must be a string");
            return;
        }
        simdjson::dom::object params;
        simdjson::dom::element params_el;
        const bool has_params = obj["params"].get(params_el) == simdjson::SUCCESS;
        if (has_params) {
            if (params_el.get_object().get(params) != simdjson::SUCCESS) {
                // JSON-RPC allows an array (valid, but not what MCP's methods take); nothing else.
                if (has_id) {
                    const bool array = params_el.is_array();
                    reply_error(id, array ? kInvalidParams : kInvalidRequest,
                                array ? "'params' must be an object (MCP takes no positional "
                                        "parameters)"
                                      : "'params' must be an object");
                }
                return;
            }
        }
        if (!has_id) {
            // Notifications (initialized, cancelled, ...) need nothing from us and get no reply.
            note(fmt::format("notification {}", method));
            return;
        }
        try {
            reply_result(id, dispatch(method, has_params ? &params : nullptr));
        } catch (const RpcError& e) {
            reply_error(id, e.code, e.message);
        } catch (const std::exception& e) {
            note(fmt::format("internal error in {}: {}", method, e.what()));
            reply_error(id, kInternalError, fmt::format("internal error: {}", e.what()));
        }
    }

    [[nodiscard]] bool ok() const { return static_cast<bool>(out_); }

  private:
    std::string dispatch(std::string_view method, const simdjson::dom::object* params) {
        if (method == "initialize") return initialize(params);
        if (method == "ping") return "{}";
        if (method == "tools/list") return tools_;
        if (method == "tools/call") return call(params);
        throw RpcError{kMethodNotFound, fmt::format("method not found: {}", method)};
    }

    std::string initialize(const simdjson::dom::object* params) {
        std::string_view asked;
        if (params == nullptr ||
            (*params)["protocolVersion"].get_string().get(asked) != simdjson::SUCCESS) {
            throw RpcError{kInvalidParams, "initialize needs params.protocolVersion, a string"};
        }
        std::string_view chosen = kMcpProtocolVersions[0];
        for (const std::string_view v : kMcpProtocolVersions) {
            if (v == asked) chosen = v;
        }
        note(fmt::format("initialize: client asked for {}, serving {}", asked, chosen));
        JsonWriter w;
        w.begin_object()
            .key("protocolVersion")
            .value(chosen)
            .key("capabilities")
            .begin_object()
            .key("tools")
            .begin_object()
            .key("listChanged")
            .value(false)
            .end_object()
            .end_object()
            .key("serverInfo")
            .begin_object()
            .key("name")
            .value("rk")
            .key("title")
            .value("rk local retrieval")
            .key("version")
            .value(version())
            .end_object()
            .key("instructions")
            .value(kInstructions)
            .end_object();
        return w.take();
    }

    std::string call(const simdjson::dom::object* params) {
        std::string_view name;
        if (params == nullptr || (*params)["name"].get_string().get(name) != simdjson::SUCCESS) {
            throw RpcError{kInvalidParams, "tools/call needs params.name, a string"};
        }
        const bool known = std::any_of(std::begin(kTools), std::end(kTools),
                                       [&](const Tool& t) { return t.name == name; });
        if (!known) throw RpcError{kInvalidParams, fmt::format("unknown tool: {}", name)};
        simdjson::dom::object args;
        simdjson::dom::element args_el;
        if ((*params)["arguments"].get(args_el) == simdjson::SUCCESS) {
            if (args_el.get_object().get(args) != simdjson::SUCCESS) {
                throw RpcError{kInvalidParams, "params.arguments must be an object"};
            }
        } else {
            // No arguments: an empty object.
            if (empty_.parse(std::string_view("{}")).get_object().get(args) != simdjson::SUCCESS) {
                throw RpcError{kInternalError, "cannot make an empty object"};
            }
        }
        // What goes wrong with the call itself (bad arguments, no such document) is the
        // tool's answer, marked isError, so that the model can read it and try again.
        std::optional<std::string> result;
        std::string failure;
        try {
            if (name == "search") {
                result = serve::search_result(index_, serve::search_args(args, defaults_));
            } else if (name == "get") {
                const auto a = serve::get_args(args);
                result = serve::get_result(index_, a);
                if (!result) failure = fmt::format("no document or chunk '{}'", a.id);
            } else {
                serve::stats_args(args);
                result = serve::stats_result(index_);
            }
        } catch (const Error& e) {
            failure = e.message();
            result.reset();
        }
        note(fmt::format("tools/call {}: {}", name, result ? "ok" : failure));
        JsonWriter w;
        w.begin_object().key("content").begin_array().begin_object();
        w.key("type").value("text").key("text").value(result ? *result : failure);
        w.end_object().end_array();
        if (result) w.key("structuredContent").raw(*result);
        w.key("isError").value(!result).end_object();
        return w.take();
    }

    void reply_result(const std::string& id, std::string_view result) {
        std::string line = R"({"jsonrpc":"2.0","id":)";
        line += id;
        line += R"(,"result":)";
        line += result;
        line += "}\n";
        send(line);
    }

    void reply_error(const std::string& id, int code, std::string_view message) {
        note(fmt::format("error {}: {}", code, message));
        JsonWriter w;
        w.begin_object().key("jsonrpc").value("2.0").key("id").raw(id);
        w.key("error").begin_object().key("code").value(code).key("message").value(message);
        w.end_object().end_object();
        std::string line = w.take();
        line += '\n';
        send(line);
    }

    void send(std::string_view line) {
        out_.write(line.data(), static_cast<std::streamsize>(line.size()));
        out_.flush();
    }

    void note(std::string_view msg) {
        if (log_ != nullptr) *log_ << "rk: mcp: " << msg << '\n' << std::flush;
    }

    const Index& index_;
    std::ostream& out_;
    std::ostream* log_;
    SearchDefaults defaults_;
    std::string tools_;
    simdjson::dom::parser parser_, empty_;
};

}  // namespace

void serve_mcp(const std::filesystem::path& index_dir, std::istream& in, std::ostream& out,
               std::ostream* log, const SearchDefaults& defaults) {
    Index index = Index::open(index_dir, Index::Mode::read);
    if (log != nullptr) {
        index.set_notes([log](const std::string& msg) { *log << "rk: mcp: " << msg << '\n'; });
        *log << "rk: mcp: serving " << index.dir().string() << " on stdio\n" << std::flush;
    }
    Session session(index, out, log, defaults);
    std::string line;
    while (session.ok() && std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        session.handle(line);
    }
}

}  // namespace rk
