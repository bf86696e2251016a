// A Model2Vec model directory from untrusted bytes: the input is tokenizer.json, config.json
// and model.safetensors, in that order, each ended by the line "\n--8<--\n" (the last one by
// the input's end). The model is opened as `rk init --embedder model2vec:DIR` opens it, and a
// few texts are embedded with it; opening may only fail with rk::Error.
#include "embed/model2vec.hpp"

#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "rk/error.hpp"

namespace {

constexpr std::string_view kCut = "\n--8<--\n";
constexpr std::array<const char*, 3> kFiles{"tokenizer.json", "config.json", "model.safetensors"};

const std::filesystem::path& scratch_dir() {
    static const std::filesystem::path dir = [] {
        auto d = std::filesystem::temp_directory_path() /
                 ("rk-fuzz-" + std::to_string(::getpid()) + "-model2vec");
        std::filesystem::create_directories(d);
        return d;
    }();
    return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::size_t at = 0;
    for (std::size_t i = 0; i < kFiles.size(); ++i) {
        const auto end = i + 1 < kFiles.size() ? input.find(kCut, at) : std::string_view::npos;
        const std::string_view part =
            input.substr(at, end == std::string_view::npos ? input.size() - at : end - at);
        std::ofstream out(scratch_dir() / kFiles[i], std::ios::binary | std::ios::trunc);
        out.write(part.data(), static_cast<std::streamsize>(part.size()));
        at = end == std::string_view::npos ? input.size() : end + kCut.size();
    }
    try {
        const rk::embed::Model2VecEmbedder model(scratch_dir());
        const std::array<std::string_view, 4> texts{"Hello world", "unaffable CAFÉ s",
                                                    "日本語のテキスト", ""};
        std::vector<float> out(texts.size() * static_cast<std::size_t>(model.dimension()));
        model.embed(texts, out);
    } catch (const rk::Error&) {
    }
    return 0;
}
