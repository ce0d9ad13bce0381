// The character statistics of tiny Shakespeare that define the Bigram-Backcopy process, parsed from the
// tables.json compiled into the library (derived by derive_tables.py; the text itself is not shipped).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mechlab {

struct BigramTables {
  std::vector<char> vocab;                  // the 65 distinct characters, sorted by byte value
  std::vector<double> unigram;              // (65,) probabilities, sum 1
  std::vector<std::vector<double>> bigram;  // (65, 65) P(next | prev), each row sums to 1
  std::string sha256;                       // of the source text, to trace the tables to it
  int64_t text_bytes = 0;
};

// The embedded tables, parsed on first use (thread-safe) and shared afterwards.
const BigramTables& bigram_tables();

}  // namespace mechlab
