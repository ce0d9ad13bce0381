// The best-fit block pool behind the CUDA allocator (backend/block_pool.h), on the host, with segments placed
// one after another so that neighbouring segments are also neighbours in memory.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "backend/block_pool.h"

using namespace mechlab;

namespace {
constexpr size_t MiB = size_t{1} << 20;

// Segments at invented addresses, one right after another (the pool never touches the memory it hands out).
struct Segments {
  uintptr_t next = uintptr_t{1} << 40;
  std::vector<std::pair<void*, size_t>> handed;
  int returned = 0;
  BlockPool pool{[this](size_t bytes) {
                   void* at = reinterpret_cast<void*>(next);
                   next += bytes;
                   handed.push_back({at, bytes});
                   return at;
                 },
                 [this](void*) { ++returned; }};
};
}  // namespace

TEST_CASE("a freed block is reused by later requests of other sizes, and its rest stays free") {
  Segments s;
  void* a = s.pool.allocate(100 * MiB);
  void* b = s.pool.allocate(50 * MiB);
  CHECK(s.pool.reserved_bytes() == 150 * MiB);
  s.pool.release(a);
  void* c = s.pool.allocate(60 * MiB);  // in a's place
  void* d = s.pool.allocate(40 * MiB);  // in the rest of it
  CHECK(c == a);
  CHECK(static_cast<char*>(d) == static_cast<char*>(a) + 60 * MiB);
  CHECK(s.pool.reserved_bytes() == 150 * MiB);
  CHECK(s.handed.size() == 2);
  void* e = s.pool.allocate(30 * MiB);  // nothing free holds it: a new segment
  CHECK(s.pool.reserved_bytes() == 180 * MiB);
  for (void* p : {b, c, d, e}) s.pool.release(p);
  s.pool.release_free_segments();
  CHECK(s.pool.reserved_bytes() == 0);
  CHECK(s.returned == 3);
}

TEST_CASE("freed neighbours merge within a segment but never across segments") {
  Segments s;
  void* a = s.pool.allocate(10 * MiB);
  void* b = s.pool.allocate(10 * MiB);  // a second segment, right after the first in memory
  REQUIRE(s.handed.size() == 2);
  CHECK(static_cast<char*>(s.handed[1].first) == static_cast<char*>(s.handed[0].first) + 10 * MiB);
  s.pool.release(a);
  s.pool.release(b);
  // 20 MiB would fit in the two free segments together, but they are separate allocations of the device.
  s.pool.allocate(20 * MiB);
  CHECK(s.handed.size() == 3);

  Segments t;
  void* x = t.pool.allocate(40 * MiB);
  t.pool.release(x);
  void* parts[4];
  for (void*& p : parts) p = t.pool.allocate(10 * MiB);
  t.pool.release(parts[1]);
  t.pool.release(parts[2]);  // merges with parts[1]
  t.pool.release(parts[0]);  // and with both
  CHECK(t.pool.allocate(30 * MiB) == x);
  CHECK(t.handed.size() == 1);
}

TEST_CASE("small requests come from small segments, so they never split a large block") {
  Segments s;
  void* big = s.pool.allocate(64 * MiB);
  s.pool.release(big);
  void* small = s.pool.allocate(4096);
  CHECK(s.handed.size() == 2);
  CHECK(s.handed[1].second == BlockPool::kSmallSegment);
  CHECK(s.pool.allocate(64 * MiB) == big);
  s.pool.release(small);
}

TEST_CASE("a pool holds about its peak of live bytes over a forward-and-backward-like pass") {
  // Forward: activations of sizes that vary; backward: frees them in reverse while allocating gradients of
  // the same sizes plus a little. A cache keyed by exact size would hold the sum of every distinct size.
  Segments s;
  std::vector<void*> activations;
  size_t live = 0, peak = 0;
  for (int i = 0; i < 40; ++i) {
    const size_t bytes = (8 + (i * 7) % 24) * MiB;
    activations.push_back(s.pool.allocate(bytes));
    live += bytes;
  }
  peak = live;
  for (int i = 39; i >= 0; --i) {
    const size_t bytes = (8 + (i * 7) % 24) * MiB;
    void* gradient = s.pool.allocate(bytes + 3 * MiB);
    live += bytes + 3 * MiB;
    peak = std::max(peak, live);
    s.pool.release(activations[i]);
    s.pool.release(gradient);
    live -= 2 * bytes + 3 * MiB;
  }
  MESSAGE("peak live " << peak / MiB << " MiB, reserved " << s.pool.reserved_bytes() / MiB << " MiB");
  CHECK(s.pool.reserved_bytes() <= peak + peak / 4);
}

TEST_CASE("releasing a block twice, or one the pool does not own, is refused") {
  Segments s;
  void* a = s.pool.allocate(MiB);
  s.pool.release(a);
  CHECK_THROWS_AS(s.pool.release(a), std::logic_error);
  int other = 0;
  CHECK_THROWS_AS(s.pool.release(&other), std::logic_error);
}
