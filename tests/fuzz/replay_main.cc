// Runs a libFuzzer target over every file in the corpus folders given on the command line, so
// that fuzz targets build and run as ordinary tests with any compiler. Exits non-zero if a folder
// is missing or empty (a replay that ran nothing is a failure), or if the target aborts.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  size_t ran = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path dir(argv[i]);
    if (!std::filesystem::is_directory(dir)) {
      std::fprintf(stderr, "corpus folder %s does not exist\n", argv[i]);
      return 2;
    }
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(data.data(), data.size());
      ++ran;
    }
  }
  if (ran == 0) {
    std::fprintf(stderr, "no corpus files found\n");
    return 2;
  }
  std::printf("replayed %zu inputs\n", ran);
  return 0;
}
