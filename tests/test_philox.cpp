// The counter-based generator against the Philox4x32-10 known-answer vectors of Random123.
#include <doctest/doctest.h>

#include <set>

#include "random/philox.h"

using namespace mechlab;

TEST_CASE("philox4x32-10 matches the Random123 known answers") {
  using Words = std::array<uint32_t, 4>;
  CHECK(philox4x32({0, 0, 0, 0}, {0, 0}) == Words{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  CHECK(philox4x32({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}) ==
        Words{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  CHECK(philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}) ==
        Words{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("draws depend on every part of the key and look uniform") {
  Philox base(1, 0, RandomStream::data, 0);
  std::set<double> firsts{base.uniform(0), Philox(2, 0, RandomStream::data, 0).uniform(0),
                          Philox(1, 1, RandomStream::data, 0).uniform(0), Philox(1, 0, RandomStream::init, 0).uniform(0),
                          Philox(1, 0, RandomStream::data, 1).uniform(0), base.uniform(1)};
  CHECK(firsts.size() == 6);
  double mean = 0.0, mean_normal = 0.0, var_normal = 0.0;
  std::array<int, 10> counts{};
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    mean += base.uniform(i);
    const double z = base.normal(i);
    mean_normal += z;
    var_normal += z * z;
    counts[base.below(i, 10)]++;
  }
  CHECK(mean / n == doctest::Approx(0.5).epsilon(0.01));
  CHECK(mean_normal / n == doctest::Approx(0.0).epsilon(0.01));
  CHECK(var_normal / n == doctest::Approx(1.0).epsilon(0.02));
  for (int c : counts) CHECK(c == doctest::Approx(n / 10).epsilon(0.05));
}
