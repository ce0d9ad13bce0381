// A best-fit allocator over segments that a device hands out (cudaMalloc): a request takes the smallest free
// block that holds it and the rest of that block stays free; a freed block merges with its free neighbours in
// the same segment. So a pass whose tensors are freed as backward walks down and whose gradients are then
// allocated in other sizes reuses the same memory, and a pool holds about its peak of live bytes, not one
// block per size that was ever live. Small requests (<= 1 MiB) come from small segments and large ones from
// large segments, so a tiny tensor never splits a large block. Not thread-safe: the owner locks.
#pragma once
#include <cstddef>
#include <functional>
#include <map>
#include <set>
#include <utility>

namespace mechlab {

class BlockPool {
 public:
  using GetSegment = std::function<void*(size_t bytes)>;
  using PutSegment = std::function<void(void* segment)>;

  static constexpr size_t kAlignment = 512;
  static constexpr size_t kSmallRequest = size_t{1} << 20;  // up to here, from kSmallSegment segments
  static constexpr size_t kSmallSegment = size_t{2} << 20;
  static constexpr size_t kLargeRounding = size_t{2} << 20;  // large segments are requests rounded up to this

  BlockPool(GetSegment get, PutSegment put) : get_(std::move(get)), put_(std::move(put)) {}
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  void* allocate(size_t bytes);
  void release(void* data);
  // Returns the segments that hold no live block to the device.
  void release_free_segments();
  size_t reserved_bytes() const { return reserved_; }

 private:
  struct Block {
    size_t size = 0;
    char* segment = nullptr;  // the segment's start: blocks of different segments never merge
    bool free = false;
    bool small = false;
  };
  using FreeKey = std::pair<size_t, char*>;  // ordered by size, then address

  void insert_free(char* at, Block& block);
  void erase_free(char* at, const Block& block);
  char* merge_with_next(char* at);

  GetSegment get_;
  PutSegment put_;
  std::map<char*, Block> blocks_;  // every block, by address
  std::set<FreeKey> free_small_, free_large_;
  std::map<char*, size_t> segments_;  // start -> size
  size_t reserved_ = 0;
};

}  // namespace mechlab
